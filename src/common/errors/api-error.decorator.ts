import { applyDecorators } from '@nestjs/common';
import { ApiResponse, type HeadersObject } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger';
import { ErrorCode } from './error-codes';
import {
  MAX_DETAIL_TEXT_LENGTH,
  MAX_ERROR_DETAILS,
  MAX_MESSAGE_LENGTH,
} from './error-envelope';

/** The header of the answers that tell a client when to come back (409 in flight, 429, 503 closing). */
export const RETRY_AFTER_HEADER: HeadersObject = {
  'Retry-After': {
    description:
      'Whole seconds to wait before retrying: at most the rate-limit window (THROTTLE_TTL_MS, at most a day) ' +
      'or the key lease (IDEMPOTENCY_LOCK_LEASE_MS, at most an hour)',
    schema: { type: 'integer', format: 'int32', minimum: 1, maximum: 86_400 },
  },
};

/** The envelope's bounds, as error-envelope.ts enforces them on every error body. */
const ERROR_TEXT = { type: 'string', maxLength: MAX_MESSAGE_LENGTH } as const;
const DETAIL_TEXT = {
  type: 'string',
  maxLength: MAX_DETAIL_TEXT_LENGTH,
} as const;

/** The envelope's schema for an answer that may carry `codes`, with the bounds the envelope enforces. */
export function ApiErrorSchema(codes: ErrorCode[]): SchemaObject {
  return {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { type: 'string', enum: codes },
          message: ERROR_TEXT,
          details: {
            type: 'array',
            maxItems: MAX_ERROR_DETAILS,
            items: {
              type: 'object',
              properties: { field: DETAIL_TEXT, message: DETAIL_TEXT },
            },
          },
        },
      },
    },
  };
}

/** Documents an error response: its status, the codes it may carry, and the envelope schema. */
export function ApiError(
  status: number,
  codes: ErrorCode[],
  description: string,
  headers?: HeadersObject,
) {
  return applyDecorators(
    ApiResponse({
      status,
      headers,
      description: `${description} Codes: ${codes.map((code) => `\`${code}\``).join(', ')}.`,
      schema: ApiErrorSchema(codes),
    }),
  );
}
