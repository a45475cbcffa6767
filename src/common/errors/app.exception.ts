import { HttpException, HttpStatus } from '@nestjs/common';
import { ErrorCode } from './error-codes';

export interface ErrorDetail {
  field: string;
  message: string;
}

/** The body of every error response: `{"error":{"code","message","details"?}}`. */
export interface ErrorEnvelope {
  error: { code: string; message: string; details?: ErrorDetail[] };
}

export class AppException extends HttpException {
  /** Response headers the error answer carries (the global filter sends them). */
  readonly headers: Record<string, string> = {};

  constructor(
    readonly code: ErrorCode,
    message: string,
    status: HttpStatus,
    readonly details?: ErrorDetail[],
  ) {
    super({ code, message, ...(details ? { details } : {}) }, status);
  }
}

export class OrderNotFoundError extends AppException {
  constructor() {
    super(ErrorCode.ORDER_NOT_FOUND, 'Order not found', HttpStatus.NOT_FOUND);
  }
}

export class OrderAlreadyPaidError extends AppException {
  constructor() {
    super(
      ErrorCode.ORDER_ALREADY_PAID,
      'The order is paid and cannot be cancelled; refund it instead',
      HttpStatus.CONFLICT,
    );
  }
}

/** A change to the note of an order that is no longer `created`: fulfilment may have acted on it. */
export class OrderNoteFrozenError extends AppException {
  constructor(status: string) {
    super(
      ErrorCode.ORDER_NOTE_FROZEN,
      `The note can change only while the order is created; this order is ${status} (its metadata can still change)`,
      HttpStatus.CONFLICT,
    );
  }
}

/** A change sent without `If-Match` (or with `*`, which would not protect against lost updates). */
export class PreconditionRequiredError extends AppException {
  constructor(message: string) {
    super(
      ErrorCode.PRECONDITION_REQUIRED,
      message,
      HttpStatus.PRECONDITION_REQUIRED,
    );
  }
}

/**
 * `If-Match` names no current version of the order: someone changed it since the client read it.
 * The answer carries the current ETag (header and message), nothing else of the order.
 */
export class PreconditionFailedError extends AppException {
  constructor(readonly currentEtag: string) {
    super(
      ErrorCode.PRECONDITION_FAILED,
      `The order has changed since the version you sent in If-Match; its current ETag is ${currentEtag}: read it again, then retry your change`,
      HttpStatus.PRECONDITION_FAILED,
    );
    this.headers.ETag = currentEtag;
  }
}

/** An `If-Match` or `If-None-Match` that is not a list of entity tags (RFC 9110). */
export class InvalidPreconditionError extends AppException {
  constructor(header: string) {
    super(
      ErrorCode.INVALID_PRECONDITION,
      `${header} must be "*" or a comma-separated list of entity tags such as "3"`,
      HttpStatus.BAD_REQUEST,
    );
  }
}

/**
 * A webhook whose headers, signature or timestamp do not hold: it has no effect. Every such delivery
 * gets the same answer; `reason` (which check failed) is for the log, never for the caller.
 */
export class WebhookSignatureInvalidError extends AppException {
  constructor(readonly reason: string) {
    super(
      ErrorCode.WEBHOOK_SIGNATURE_INVALID,
      'The webhook signature does not verify',
      HttpStatus.UNAUTHORIZED,
    );
  }
}

/** A body that is not JSON (where a route parses it itself, after authenticating its bytes). */
export class InvalidJsonError extends AppException {
  constructor() {
    super(
      ErrorCode.INVALID_JSON,
      'Request body is not valid JSON',
      HttpStatus.BAD_REQUEST,
    );
  }
}

export class WebhooksDisabledError extends AppException {
  constructor() {
    super(
      ErrorCode.WEBHOOKS_DISABLED,
      'Payment webhooks are off: PAYMENT_WEBHOOK_SECRETS is not set',
      HttpStatus.SERVICE_UNAVAILABLE,
    );
  }
}

export class ValidationFailedError extends AppException {
  constructor(details: ErrorDetail[], message = 'Request validation failed') {
    super(
      ErrorCode.VALIDATION_FAILED,
      message,
      HttpStatus.BAD_REQUEST,
      details,
    );
  }
}

export class UnauthorizedError extends AppException {
  constructor(message = 'A valid bearer token is required') {
    super(ErrorCode.UNAUTHORIZED, message, HttpStatus.UNAUTHORIZED);
  }
}

export class ServiceUnavailableError extends AppException {
  constructor(message = 'A dependency is unavailable; retry later') {
    super(
      ErrorCode.SERVICE_UNAVAILABLE,
      message,
      HttpStatus.SERVICE_UNAVAILABLE,
    );
  }
}

/** A request that reached an instance after its shutdown closed the listener: another instance will answer. */
export class InstanceClosingError extends ServiceUnavailableError {
  constructor() {
    super(
      'This instance is shutting down; retry (another instance will answer)',
    );
  }
}
