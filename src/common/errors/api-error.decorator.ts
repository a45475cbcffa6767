import { applyDecorators } from '@nestjs/common';
import { ApiResponse, type HeadersObject } from '@nestjs/swagger';
import { ErrorCode } from './error-codes';

/** The header of the answers that tell a client when to come back (409 in flight, 429). */
export const RETRY_AFTER_HEADER: HeadersObject = {
  'Retry-After': {
    description: 'Whole seconds to wait before retrying',
    schema: { type: 'integer', minimum: 1 },
  },
};

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
      schema: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: {
              code: { type: 'string', enum: codes },
              message: { type: 'string' },
              details: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    field: { type: 'string' },
                    message: { type: 'string' },
                  },
                },
              },
            },
          },
        },
      },
    }),
  );
}
