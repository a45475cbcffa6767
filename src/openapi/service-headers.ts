import type {
  HeadersObject,
  OpenAPIObject,
  OperationObject,
  ResponseObject,
} from '@nestjs/swagger';
import { ApiErrorSchema } from '../common/errors/api-error.decorator';
import { ErrorCode } from '../common/errors/error-codes';

/** Whole numbers the rate-limit fields can hold (THROTTLE_LIMIT and its kin are at most 1e9). */
const COUNT = {
  type: 'integer',
  format: 'int64',
  minimum: 0,
  maximum: 1_000_000_000,
} as const;

/**
 * The rate-limit fields every limited answer carries (the user's budget on the API, the address's on
 * the webhook and the probes). Not required: an answer refused before the limiter runs (413, 415, a
 * 400 for a malformed URL) has none.
 */
const RATE_LIMIT_HEADERS: HeadersObject = {
  'RateLimit-Limit': {
    description:
      'Requests allowed per window for this caller on this route group',
    schema: COUNT,
  },
  'RateLimit-Remaining': {
    description: 'Requests left in the current window',
    schema: COUNT,
  },
  'RateLimit-Reset': {
    description: 'Whole seconds until the window ends',
    schema: { ...COUNT, maximum: 86_400 },
  },
};

/** CORS: sent only when CORS_ORIGINS lists the request's Origin (off by default). */
const CORS_HEADERS: HeadersObject = {
  'Access-Control-Allow-Origin': {
    description:
      'The calling origin, when CORS_ORIGINS lists it (or `*` when CORS_ORIGINS is `*`); absent otherwise',
    schema: { type: 'string', maxLength: 2048, format: 'uri' },
  },
};

/**
 * Adds what every route of the service answers with, so that each operation needs not repeat it: the
 * rate-limit fields on each 2xx and 4xx answer, the CORS origin on every answer, and the 500 that any
 * unexpected failure gets in the envelope. Operations without a security requirement (the health
 * probes) say so explicitly with an empty one.
 */
export function withServiceHeaders(document: OpenAPIObject): OpenAPIObject {
  for (const path of Object.values(document.paths))
    for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
      const operation = path[method];
      if (operation) addServiceResponses(operation);
    }
  return document;
}

function addServiceResponses(operation: OperationObject): void {
  operation.security ??= [];
  operation.responses['500'] ??= {
    description: `An unexpected failure (a bug); nothing is stored. Codes: \`${ErrorCode.INTERNAL}\`.`,
    content: {
      'application/json': { schema: ApiErrorSchema([ErrorCode.INTERNAL]) },
    },
  };
  for (const [status, response] of Object.entries(operation.responses)) {
    const answer = response as ResponseObject;
    answer.headers = {
      ...(/^[24]/.test(status) ? RATE_LIMIT_HEADERS : {}),
      ...CORS_HEADERS,
      ...answer.headers,
    };
  }
}
