/**
 * Tells a database that does not answer (503: the client may retry) from a bug (500). Postgres
 * SQLSTATE classes 08 (connection), 53 (resources), 57 (operator intervention, incl. statement
 * timeout 57014), lock_timeout (55P03: the table is locked, e.g. by a non-concurrent CREATE INDEX)
 * a read-only node (25006: a failover in progress) and the pg driver's own connect/timeout failures
 * count as unavailability.
 */
const LOCK_NOT_AVAILABLE = '55P03';
/**
 * A write refused because the node is read-only: a demoted primary or a standby reached during a
 * failover. For the client it is the same as no primary answering: retry (503), not a 4xx.
 */
export const READ_ONLY_TRANSACTION = '25006';
const UNAVAILABLE_SQLSTATE_PREFIXES = ['08', '53', '57'];
const UNAVAILABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);
const UNAVAILABLE_MESSAGES = [
  /timeout exceeded when trying to connect/i,
  /connection terminated/i,
  /connection timeout/i,
  /Connection is not established/i,
  /Query read timeout/i,
  /Client has encountered a connection error/i,
  /Client was closed and is not queryable/i,
];

export const UNIQUE_VIOLATION = '23505';

export function sqlState(error: unknown): string | undefined {
  const candidate =
    (error as { driverError?: { code?: unknown }; code?: unknown } | null) ??
    {};
  const code = candidate.driverError?.code ?? candidate.code;
  return typeof code === 'string' ? code : undefined;
}

export function isUniqueViolationOf(
  error: unknown,
  constraint: string,
): boolean {
  const driverError =
    (error as { driverError?: { code?: string; constraint?: string } })
      .driverError ?? error;
  const { code, constraint: violated } = (driverError ?? {}) as {
    code?: string;
    constraint?: string;
  };
  return code === UNIQUE_VIOLATION && violated === constraint;
}

export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = sqlState(error);
  if (
    code &&
    (UNAVAILABLE_NODE_CODES.has(code) ||
      code === LOCK_NOT_AVAILABLE ||
      code === READ_ONLY_TRANSACTION)
  )
    return true;
  if (code && /^[0-9A-Z]{5}$/.test(code)) {
    return UNAVAILABLE_SQLSTATE_PREFIXES.some((prefix) =>
      code.startsWith(prefix),
    );
  }
  return UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(error.message));
}
