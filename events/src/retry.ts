/**
 * How long a redelivery waits: doubling from `baseMs` with each attempt, capped at `maxMs`, with
 * up to a fifth of jitter so that the events of a burst do not all come back in the same instant.
 */
export function backoffMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.8 + 0.2 * random()));
}

/** SQLSTATE classes that say the database, not the handler, failed: connection, resources, shutdown. */
const TRANSIENT_CLASSES = ['08', '53', '57'];
/** Serialisation failure and deadlock: the same transaction may well succeed when run again. */
const TRANSIENT_CODES = ['40001', '40P01'];

/**
 * Whether a handler's error is the database's trouble rather than the handler's: such a failure is
 * retried without counting towards the dead letter, since the event itself is fine.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return false;
  return (
    TRANSIENT_CODES.includes(code) ||
    TRANSIENT_CLASSES.includes(code.slice(0, 2))
  );
}

/**
 * Whether an error from one of the consumer's own statements means the database is lost rather
 * than that the event's data is at fault: no SQLSTATE at all (a connection refused, reset or
 * ended) or a transient one. A data or constraint error is the event's own failure: counted, then
 * dead-lettered, never retried for ever.
 */
export function isDatabaseLoss(error: unknown): boolean {
  // The server's errors carry a severity; a socket's (EPIPE, ECONNRESET) only a code.
  const severity = (error as { severity?: unknown } | null)?.severity;
  if (typeof severity !== 'string') return true;
  return isTransientDatabaseError(error);
}
