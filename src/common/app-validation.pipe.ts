import {
  ArgumentMetadata,
  Injectable,
  ValidationError,
  ValidationPipe,
} from '@nestjs/common';
import { ErrorDetail, ValidationFailedError } from './errors';

/** class-validator's errors as the envelope's per-field details (`items.0.sku`). */
export function validationDetails(
  errors: ValidationError[],
  parent = '',
): ErrorDetail[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({
      field,
      message,
    }));
    return [...own, ...validationDetails(error.children ?? [], field)];
  });
}

/**
 * Strict DTO validation: unknown fields and wrong types are refused (no implicit conversion), and
 * every failure is listed per field in the error envelope.
 */
@Injectable()
export class AppValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      validationError: { target: false, value: false },
      exceptionFactory: (errors) =>
        new ValidationFailedError(validationDetails(errors)),
    });
  }

  override async transform(
    value: unknown,
    metadata: ArgumentMetadata,
  ): Promise<unknown> {
    if (
      metadata.type === 'body' &&
      (value === null || typeof value !== 'object' || Array.isArray(value))
    ) {
      throw new ValidationFailedError([
        { field: 'body', message: 'body must be a JSON object' },
      ]);
    }
    return super.transform(value, metadata);
  }
}
