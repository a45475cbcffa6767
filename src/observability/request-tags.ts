import type { IdempotencyOutcome } from '../idempotency';

/** What a request's log line and metrics say about it, beyond method, route and status. */
export interface RequestTags {
  userId?: string;
  /** The idempotency library's outcome (`degraded` is kept apart: it accompanies another one). */
  idempotency?: Exclude<IdempotencyOutcome, 'degraded'>;
  idempotencyDegraded?: boolean;
  /** Why the bearer token was refused (expired, bad_signature, ...): logged, never answered. */
  authRefusal?: string;
  /** The matched route pattern (`/orders/:id`), not the raw URL. */
  route?: string;
}

const TAGS = Symbol('requestTags');

type Tagged = { [TAGS]?: RequestTags; raw?: object };

/**
 * Tags live on the Node request (Fastify's `request.raw`), where pino-http reads them when it writes
 * the request's log line on `finish`.
 */
export function tagRequest(request: unknown, tags: RequestTags): void {
  const raw = ((request as Tagged).raw ?? request) as Tagged;
  raw[TAGS] = { ...raw[TAGS], ...tags };
}

export function requestTags(request: unknown): RequestTags {
  const raw = ((request as Tagged).raw ?? request) as Tagged;
  return raw[TAGS] ?? {};
}
