/** One field's problem, as the service's validation reports it. */
export interface ErrorDetail {
  field?: string;
  message: string;
}

/** The service answered with an error status and its envelope `{"error":{"code","message","details"?}}`. */
export class OrdersApiError extends Error {
  override readonly name = 'OrdersApiError';

  constructor(
    readonly status: number,
    /** The envelope's stable code, e.g. `IDEMPOTENCY_KEY_REUSED`; `HTTP_<status>` if the body had none. */
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] | undefined,
    /** The service's `X-Request-Id` for this answer: quote it when reporting a problem. */
    readonly requestId: string | undefined,
    /** Whether the client's policy retries this answer (it only reaches you once retries ran out). */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/**
 * No answer: the connection failed or was cut, or the attempt timed out (`timedOut`). Always
 * retryable. The message names the method, the URL and the cause's code, e.g.
 * `POST http://orders:3000/orders failed: ECONNREFUSED`.
 */
export class OrdersNetworkError extends Error {
  override readonly name = 'OrdersNetworkError';
  readonly retryable = true;

  constructor(
    readonly method: string,
    readonly url: string,
    /** The system's or fetch's code for what happened (`ECONNREFUSED`, `ECONNRESET`, `ETIMEDOUT`, ...). */
    readonly code: string,
    readonly timedOut: boolean,
    options: { cause?: unknown; detail?: string } = {},
  ) {
    super(
      `${method} ${url} failed: ${code}${options.detail ? ` (${options.detail})` : ''}`,
      { cause: options.cause },
    );
  }
}

/**
 * The code of a failed fetch: Node's fetch (undici) wraps the socket's error (`ECONNREFUSED`, ...)
 * as `cause`, sometimes in an AggregateError (one per address tried); other fetches throw it directly.
 */
export function networkErrorCode(error: unknown): string {
  for (let current = error, depth = 0; depth < 4; depth++) {
    const candidate = current as
      | {
          code?: unknown;
          errors?: unknown[];
          cause?: unknown;
          message?: unknown;
        }
      | null
      | undefined;
    if (typeof candidate?.code === 'string') return candidate.code;
    const first = candidate?.errors?.[0] as { code?: unknown } | undefined;
    if (typeof first?.code === 'string') return first.code;
    if (candidate?.cause === undefined)
      return typeof candidate?.message === 'string' && candidate.message
        ? candidate.message
        : 'unknown network error';
    current = candidate.cause;
  }
  return 'unknown network error';
}
