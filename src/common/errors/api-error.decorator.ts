import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ErrorCode } from './error-codes';

/** Documents an error response: its status, the codes it may carry, and the envelope schema. */
export function ApiError(
  status: number,
  codes: ErrorCode[],
  description: string,
) {
  return applyDecorators(
    ApiResponse({
      status,
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
