import { MAX_BODY_ARRAY_LENGTH, MAX_BODY_DEPTH } from './body-shape';

/** One row of the retry table: what a client sees, and so whether and how to retry. */
interface RetryRow {
  situation: string;
  status: string;
  code: string;
  headers: string;
}

/**
 * The retry semantics of `POST /orders`, in one place: the OpenAPI description renders it, and a
 * unit test checks that the README holds exactly the same table.
 */
export const RETRY_SEMANTICS: RetryRow[] = [
  {
    situation: 'First request with a key',
    status: '201',
    code: '-',
    headers: '`Location`, `ETag`',
  },
  {
    situation: 'Retry, same key and body, first request finished',
    status: '201, byte-identical body',
    code: '-',
    headers: '`Location`, `ETag`, `Idempotent-Replayed: true`',
  },
  {
    situation: 'Retry while the first request is still running',
    status: '409',
    code: '`IDEMPOTENCY_REQUEST_IN_PROGRESS`',
    headers:
      '`Retry-After`: 1 while the first request runs; the rest of its lease if its instance died',
  },
  {
    situation: 'Same key, different body, method or path',
    status: '422',
    code: '`IDEMPOTENCY_KEY_REUSED`',
    headers: '-',
  },
  {
    situation: 'Header missing',
    status: '400',
    code: '`MISSING_IDEMPOTENCY_KEY`',
    headers: '-',
  },
  {
    situation: 'Header empty, too long or with other characters',
    status: '400',
    code: '`INVALID_IDEMPOTENCY_KEY`',
    headers: '-',
  },
  {
    situation: 'Invalid body / bad JSON / too large / not JSON',
    status: '400 / 400 / 413 / 415',
    code: '`VALIDATION_FAILED` / `INVALID_JSON` / `PAYLOAD_TOO_LARGE` / `UNSUPPORTED_MEDIA_TYPE`',
    headers: '-',
  },
  {
    situation: `Body nested deeper than ${MAX_BODY_DEPTH} levels, an array over ${MAX_BODY_ARRAY_LENGTH} entries, or a string with NUL or a lone surrogate`,
    status: '400',
    code: '`VALIDATION_FAILED`',
    headers: '-',
  },
  {
    situation: 'Request not finished within `HTTP_REQUEST_TIMEOUT_MS`',
    status: '408, connection closed',
    code: '`REQUEST_TIMEOUT`',
    headers: '-',
  },
  {
    situation:
      'Malformed URL / bad `Content-Length` / path segment or headers too long',
    status: '400 / 400 / 414 / 431',
    code: '`BAD_REQUEST` / `BAD_REQUEST` / `URI_TOO_LONG` / `HEADERS_TOO_LARGE`',
    headers: '-',
  },
  {
    situation: 'Over the rate limit',
    status: '429',
    code: '`TOO_MANY_REQUESTS`',
    headers: '`Retry-After` (seconds)',
  },
  {
    situation:
      'Database unavailable, or its table locked past `DB_LOCK_TIMEOUT_MS`',
    status: '503',
    code: '`SERVICE_UNAVAILABLE`',
    headers: '-',
  },
];

/** The table as Markdown (README and the OpenAPI description). */
export function retrySemanticsTable(): string {
  return [
    '| Situation | Status | Code | Headers |',
    '|---|---|---|---|',
    ...RETRY_SEMANTICS.map(
      (row) =>
        `| ${row.situation} | ${row.status} | ${row.code} | ${row.headers} |`,
    ),
  ].join('\n');
}
