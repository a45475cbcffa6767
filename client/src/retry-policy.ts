import { OrdersApiError, OrdersNetworkError } from './errors.js';

/** Why an attempt is retried; `onRetry` receives it. */
export type RetryReason =
  'network' | 'timeout' | 'in_progress' | 'rate_limited' | 'unavailable';

/** Statuses that say "not now" rather than "no": the same request may succeed later. */
const UNAVAILABLE = new Set([502, 503, 504]);

/**
 * The retry table (client/README.md): network failures and timeouts (the client's own, and a 408: the
 * request reached the service too slowly to be read, so nothing was done), 409
 * `IDEMPOTENCY_REQUEST_IN_PROGRESS`, 429, 502, 503 and 504 are retried; every other answer is final,
 * including 422 `IDEMPOTENCY_KEY_REUSED` (a bug in the caller) and 500 (the service cannot say it
 * will work next time).
 */
export function retryReasonOf(
  failure: OrdersApiError | OrdersNetworkError,
): RetryReason | undefined {
  if (failure instanceof OrdersNetworkError)
    return failure.timedOut ? 'timeout' : 'network';
  return statusRetryReason(failure.status, failure.code);
}

/** Why an answer with this status and error code is retried; undefined when it is final. */
function statusRetryReason(
  status: number,
  code: string,
): RetryReason | undefined {
  if (status === 408) return 'timeout';
  if (status === 409)
    return code === 'IDEMPOTENCY_REQUEST_IN_PROGRESS'
      ? 'in_progress'
      : undefined;
  if (status === 429) return 'rate_limited';
  return UNAVAILABLE.has(status) ? 'unavailable' : undefined;
}

export function isRetryableStatus(status: number, code: string): boolean {
  return statusRetryReason(status, code) !== undefined;
}

/**
 * `Retry-After` in milliseconds: whole seconds, or an HTTP date (RFC 9110); undefined when absent or
 * unreadable (then the backoff decides). A date in the past means "now".
 */
export function retryAfterMs(
  header: string | null,
  now: number,
): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * How long a 429 asks the caller to wait: `Retry-After` when sent, else the window's end from
 * `RateLimit-Reset` (whole seconds, the rate-limit fields the service sends on every limited answer).
 */
export function rateLimitedWaitMs(
  headers: { get(name: string): string | null },
  now: number,
): number | undefined {
  const retryAfter = retryAfterMs(headers.get('retry-after'), now);
  if (retryAfter !== undefined) return retryAfter;
  const reset = headers.get('ratelimit-reset')?.trim();
  return reset && /^\d+$/.test(reset) ? Number(reset) * 1000 : undefined;
}

/**
 * Exponential backoff with full jitter ("Exponential Backoff and Jitter", AWS Architecture Blog):
 * a uniform wait in [0, min(maxDelayMs, baseDelayMs * 2^(attempt-1))). Spreading retries at random
 * keeps a crowd of clients that failed together from retrying together.
 */
export function fullJitterDelayMs(
  attempt: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}
