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
