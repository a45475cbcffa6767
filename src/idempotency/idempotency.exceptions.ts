import { HttpException, HttpStatus } from '@nestjs/common';
import { DEFAULT_HEADER_NAME } from './idempotency.constants';

/**
 * Errors of the idempotency layer. Each body carries a stable `code`, so an app-wide exception filter
 * can render it in its own envelope without knowing this module.
 */
export class IdempotencyException extends HttpException {
  constructor(
    readonly code: string,
    message: string,
    status: HttpStatus,
  ) {
    super({ code, message }, status);
  }
}

/** @example throw new MissingIdempotencyKeyException('Idempotency-Key') */
export class MissingIdempotencyKeyException extends IdempotencyException {
  constructor(header: string) {
    super(
      'MISSING_IDEMPOTENCY_KEY',
      `The ${header} header is required for this request`,
      HttpStatus.BAD_REQUEST,
    );
  }
}

/** @example throw new InvalidIdempotencyKeyException('Idempotency-Key', 'is empty') */
export class InvalidIdempotencyKeyException extends IdempotencyException {
  constructor(header: string, problem: string) {
    super(
      'INVALID_IDEMPOTENCY_KEY',
      `The ${header} header ${problem}`,
      HttpStatus.BAD_REQUEST,
    );
  }
}

/** The key was already used for a request with a different method, path or body. */
export class IdempotencyKeyReusedException extends IdempotencyException {
  constructor(header: string = DEFAULT_HEADER_NAME) {
    super(
      'IDEMPOTENCY_KEY_REUSED',
      `This ${header} was already used with a different request; use a new key for a new request`,
      HttpStatus.UNPROCESSABLE_ENTITY,
    );
  }
}

/** A request with the same key and payload is still being processed; retry after `retryAfterSeconds`. */
export class IdempotencyRequestInProgressException extends IdempotencyException {
  constructor(
    readonly retryAfterSeconds: number,
    header: string = DEFAULT_HEADER_NAME,
  ) {
    super(
      'IDEMPOTENCY_REQUEST_IN_PROGRESS',
      `A request with this ${header} is still in progress; retry after the Retry-After delay`,
      HttpStatus.CONFLICT,
    );
  }
}

/** The body nests deeper than the fingerprint walks (MAX_FINGERPRINT_DEPTH): refused, never a stack overflow. */
export class IdempotentBodyTooDeepException extends IdempotencyException {
  constructor(maxDepth: number) {
    super(
      'VALIDATION_FAILED',
      `The request body must not nest deeper than ${maxDepth} levels`,
      HttpStatus.BAD_REQUEST,
    );
  }
}
