import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { ValidateBy, type ValidationOptions } from 'class-validator';

/** The client's own key-value references on an order; Stripe's limits. One source for code and contract. */
export const METADATA_MAX_KEYS = 50;
export const METADATA_KEY_PATTERN = /^[A-Za-z0-9_.-]{1,40}$/;
export const METADATA_MAX_VALUE_LENGTH = 500;

export type OrderMetadata = Record<string, string>;
/** A merge patch of metadata (RFC 7396): a string sets a key, null deletes it. */
export type MetadataPatch = Record<string, string | null>;

/**
 * Why `value` is not metadata (or, with `nullValues`, a metadata patch), or undefined when it is.
 * Keys are the client's text: a message names the rule, never the key.
 */
export function metadataProblem(
  value: unknown,
  nullValues = false,
): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return 'metadata must be an object of string values';
  const entries = Object.entries(value);
  if (entries.length > METADATA_MAX_KEYS)
    return `metadata must have at most ${METADATA_MAX_KEYS} keys`;
  for (const [key, entry] of entries) {
    if (!METADATA_KEY_PATTERN.test(key))
      return 'metadata keys must be 1-40 characters of A-Z, a-z, 0-9, "_", "." and "-"';
    if (entry === null && nullValues) continue;
    if (typeof entry !== 'string')
      return nullValues
        ? 'metadata values must be strings (or null, to delete the key)'
        : 'metadata values must be strings';
    if (entry.length > METADATA_MAX_VALUE_LENGTH)
      return `metadata values must be at most ${METADATA_MAX_VALUE_LENGTH} characters`;
  }
  return undefined;
}

/** Validates a DTO property as metadata (`{ nullValues: true }`: as a merge patch of it). */
export function IsOrderMetadata(
  options: { nullValues?: boolean } = {},
  validationOptions?: ValidationOptions,
): PropertyDecorator {
  return applyDecorators(
    // The client's object as sent: class-transformer's copy skips a key named like a member of
    // Object.prototype (toString, valueOf, constructor, ...), which would drop it without a word.
    Transform(({ obj, key }) => (obj as Record<string, unknown>)[key], {
      toClassOnly: true,
    }),
    metadataValidator(options, validationOptions),
  );
}

function metadataValidator(
  options: { nullValues?: boolean },
  validationOptions?: ValidationOptions,
): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isOrderMetadata',
      validator: {
        validate: (value: unknown) =>
          metadataProblem(value, options.nullValues) === undefined,
        defaultMessage: (args) =>
          metadataProblem(args?.value, options.nullValues) ??
          'invalid metadata',
      },
    },
    validationOptions,
  );
}

/** RFC 7396 on a flat object of strings: a string sets its key, null deletes it. */
export function mergeMetadata(
  current: OrderMetadata,
  patch: MetadataPatch | null,
): OrderMetadata {
  if (patch === null) return {};
  // A Map, so that no key (not even "__proto__", which the pattern allows) is special.
  const merged = new Map(Object.entries(current));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) merged.delete(key);
    else merged.set(key, value);
  }
  return Object.fromEntries(merged);
}

/** The OpenAPI schema of metadata, from the same limits (`nullValues` for a patch). */
export function metadataSchema(nullValues = false) {
  return {
    type: 'object' as const,
    maxProperties: METADATA_MAX_KEYS,
    // OpenAPI 3.0 has no propertyNames: the key rule is stated in words.
    description:
      `Your own references: at most ${METADATA_MAX_KEYS} keys, each 1-40 characters of ` +
      `A-Z, a-z, 0-9, "_", "." and "-" (${METADATA_KEY_PATTERN.source}), each value a string of at most ` +
      `${METADATA_MAX_VALUE_LENGTH} characters; "constructor", "prototype" and "__proto__" are refused` +
      (nullValues
        ? '; null deletes a key, and `"metadata": null` deletes them all'
        : ''),
    additionalProperties: {
      type: 'string' as const,
      maxLength: METADATA_MAX_VALUE_LENGTH,
      ...(nullValues && { nullable: true }),
    },
  };
}
