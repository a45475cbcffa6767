import { HttpException, HttpStatus } from '@nestjs/common';
import { ErrorDetail, ErrorEnvelope } from './app.exception';
import { defaultCodeForStatus, ErrorCode } from './error-codes';
import { isDatabaseUnavailable } from './database-errors';

export interface RenderedError {
  status: number;
  body: ErrorEnvelope;
  /** True when the error is a bug or an unknown failure that must be logged with its stack. */
  unexpected: boolean;
  /** Headers the answer carries (Retry-After on a 503 the client should retry). */
  headers?: Record<string, string>;
}

/** Fastify's own request errors (raised before any Nest handler runs), by their stable code. */
const FASTIFY_ERRORS: Record<
  string,
  { status: number; code: ErrorCode; message: string }
> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: ErrorCode.PAYLOAD_TOO_LARGE,
    message: 'Request body is larger than the 64 KiB limit',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    message: 'Content-Type must be application/json',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: ErrorCode.INVALID_JSON,
    message: 'Request body is empty but Content-Type is application/json',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    code: ErrorCode.INVALID_JSON,
    message: 'Request body is not valid JSON',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: ErrorCode.BAD_REQUEST,
    message: 'Content-Length does not match the body',
  },
};

/** Every error body is bounded: at most this many details, each text cut to a few hundred characters. */
export const MAX_ERROR_DETAILS = 20;
export const MAX_MESSAGE_LENGTH = 300;
export const MAX_DETAIL_TEXT_LENGTH = 200;

function cut(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

/** The envelope, bounded in size whatever produced it: a client cannot grow an error body at will. */
function envelope(
  code: string,
  message: string,
  details?: ErrorDetail[],
): ErrorEnvelope {
  if (!details?.length)
    return { error: { code, message: cut(message, MAX_MESSAGE_LENGTH) } };
  const omitted = details.length - MAX_ERROR_DETAILS;
  const summary =
    omitted > 0
      ? `${message} (${details.length} problems, the first ${MAX_ERROR_DETAILS} listed)`
      : message;
  return {
    error: {
      code,
      message: cut(summary, MAX_MESSAGE_LENGTH),
      details: details.slice(0, MAX_ERROR_DETAILS).map((detail) => ({
        field: cut(String(detail.field), MAX_DETAIL_TEXT_LENGTH),
        message: cut(String(detail.message), MAX_DETAIL_TEXT_LENGTH),
      })),
    },
  };
}

/** @nestjs/terminus's failed check body ({status:'error', error:{database:{...}}}) -> "Not ready: database". */
function healthMessage(body: Record<string, unknown>): string | undefined {
  if (body.status !== 'error' || typeof body.error !== 'object' || !body.error)
    return undefined;
  return `Not ready: ${Object.keys(body.error).join(', ')}`;
}

function fromHttpException(exception: HttpException): RenderedError {
  const status = exception.getStatus();
  const response = exception.getResponse();
  const body =
    typeof response === 'object' && response !== null
      ? (response as Record<string, unknown>)
      : {};
  const code =
    typeof body.code === 'string' ? body.code : defaultCodeForStatus(status);
  const rawMessage =
    body.message ??
    (typeof response === 'string' ? response : exception.message);
  const message = Array.isArray(rawMessage)
    ? rawMessage.join('; ')
    : typeof rawMessage === 'string'
      ? rawMessage
      : exception.message;
  // Nest's "Cannot GET /the/path" for an unmatched route would echo the client's URL back.
  if (status === 404 && typeof body.code !== 'string')
    return {
      status,
      body: envelope(
        ErrorCode.NOT_FOUND,
        'No route matches this method and path',
      ),
      unexpected: false,
    };
  const details = Array.isArray(body.details)
    ? (body.details as ErrorDetail[])
    : undefined;
  return {
    status,
    body: envelope(code, healthMessage(body) ?? message, details),
    // A deliberate 503 (readiness, draining) is an answer, not a bug: no stack trace.
    unexpected: status >= 500 && status !== 503,
  };
}

function fromClientError(
  error: Error & { code?: string; statusCode?: number },
): RenderedError | undefined {
  const known = error.code ? FASTIFY_ERRORS[error.code] : undefined;
  if (known)
    return {
      status: known.status,
      body: envelope(known.code, known.message),
      unexpected: false,
    };
  // The client went away mid-body (Node's "aborted"): nobody will read the answer, and it is no bug.
  if (error.message === 'aborted')
    return {
      status: 400,
      body: envelope(
        ErrorCode.BAD_REQUEST,
        'The request body was not received in full',
      ),
      unexpected: false,
    };
  const status = error.statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500)
    return undefined;
  if (error instanceof SyntaxError) {
    return {
      status: 400,
      body: envelope(ErrorCode.INVALID_JSON, 'Request body is not valid JSON'),
      unexpected: false,
    };
  }
  return {
    status,
    body: envelope(defaultCodeForStatus(status), error.message),
    unexpected: false,
  };
}

/** Maps anything thrown while serving a request to a status and the documented error envelope. */
export function renderError(exception: unknown): RenderedError {
  if (exception instanceof HttpException) {
    // The Fastify adapter wraps its own 4xx errors in an HttpException; the original is the cause.
    const cause = exception.cause;
    const fromFastify =
      cause instanceof Error ? fromClientError(cause) : undefined;
    return fromFastify ?? fromHttpException(exception);
  }
  if (exception instanceof Error) {
    const clientError = fromClientError(exception);
    if (clientError) return clientError;
    if (isDatabaseUnavailable(exception)) {
      return {
        status: HttpStatus.SERVICE_UNAVAILABLE,
        body: envelope(
          ErrorCode.SERVICE_UNAVAILABLE,
          'The database is unavailable; retry with the same Idempotency-Key',
        ),
        unexpected: false,
        // A failover takes seconds: the client's next try should come soon, not at once.
        headers: { 'retry-after': '1' },
      };
    }
  }
  return {
    status: HttpStatus.INTERNAL_SERVER_ERROR,
    body: envelope(ErrorCode.INTERNAL, 'An unexpected error occurred'),
    unexpected: true,
  };
}
