import {
  ArgumentMetadata,
  Injectable,
  ValidationError,
  ValidationPipe,
} from '@nestjs/common';
import { ErrorDetail, ValidationFailedError } from './errors';

/** class-validator's constraint for a property the DTO does not define (forbidNonWhitelisted). */
const UNKNOWN_PROPERTY = 'whitelistValidation';

/**
 * class-validator's errors as the envelope's per-field details (`items.0.sku`). Only fields the API
 * defines are named: properties it does not define are counted per object, never echoed (their names
 * are the client's text, and an error body is no place to reflect it).
 */
export function validationDetails(
  errors: ValidationError[],
  parent = '',
): ErrorDetail[] {
  const unknown = errors.filter(
    (error) => error.constraints?.[UNKNOWN_PROPERTY] !== undefined,
  ).length;
  const details: ErrorDetail[] =
    unknown === 0
      ? []
      : [
          {
            field: parent,
            message:
              unknown === 1
                ? '1 property is not defined by the API'
                : `${unknown} properties are not defined by the API`,
          },
        ];
  for (const error of errors) {
    if (error.constraints?.[UNKNOWN_PROPERTY] !== undefined) continue;
    const field = parent ? `${parent}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {}))
      details.push({ field, message });
    details.push(...validationDetails(error.children ?? [], field));
  }
  return details;
}

const RESERVED_KEYS = ['constructor', 'prototype', '__proto__'];

/**
 * The path of an own key named `constructor`, `prototype` or `__proto__` in a parsed body, if any.
 * Iterative: a body nested deeper than the call stack is refused elsewhere, not overflowed here.
 */
function findReservedKey(body: unknown): string | undefined {
  const stack: [unknown, string][] = [[body, '']];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    const isArray = Array.isArray(value);
    for (const [key, child] of Object.entries(value)) {
      const at = isArray ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      if (!isArray && RESERVED_KEYS.includes(key)) return at;
      stack.push([child, at]);
    }
  }
  return undefined;
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

  /**
   * Nest deletes every `constructor`, `prototype` and `__proto__` key of a body before validating it
   * (prototype pollution), which would drop a client's key without a word, e.g. a metadata entry named
   * `constructor`. The JSON parser already refuses `__proto__` and `constructor.prototype`; the other
   * two names are refused here, where the client is told, instead of being dropped.
   */
  protected override stripProtoKeys(value: unknown): void {
    const reserved = findReservedKey(value);
    if (reserved)
      throw new ValidationFailedError([
        {
          field: reserved,
          message:
            'property names "constructor" and "prototype" are reserved: use another name',
        },
      ]);
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
    try {
      return await super.transform(value, metadata);
    } catch (error) {
      // Unknown properties of the top-level object are reported as the body's or the query's.
      if (!(error instanceof ValidationFailedError) || !error.details)
        throw error;
      throw new ValidationFailedError(
        error.details.map((detail) =>
          detail.field === '' ? { ...detail, field: metadata.type } : detail,
        ),
      );
    }
  }
}
