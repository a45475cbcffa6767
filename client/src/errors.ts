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

/** No answer: the connection failed or was cut, or the attempt timed out (`timedOut`). Always retryable. */
export class OrdersNetworkError extends Error {
  override readonly name = 'OrdersNetworkError';
  readonly retryable = true;

  constructor(
    message: string,
    readonly timedOut: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
