/**
 * What a browser on an allowed origin (CORS_ORIGINS) may do: the API's methods, the request headers
 * a client sends, and the response headers a client reads to retry safely. One list, read by the app
 * and its tests.
 */
export const CORS_POLICY = {
  methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
  allowedHeaders: [
    'authorization',
    'content-type',
    'idempotency-key',
    'if-match',
    'if-none-match',
    'x-request-id',
  ],
  exposedHeaders: [
    'location',
    'etag',
    'idempotent-replayed',
    'retry-after',
    'x-request-id',
    'ratelimit-limit',
    'ratelimit-remaining',
    'ratelimit-reset',
  ],
  /** Seconds a browser may reuse a preflight answer. */
  maxAge: 600,
} as const;
