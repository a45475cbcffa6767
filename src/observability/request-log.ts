import type { PinoLogger } from 'nestjs-pino';
import { requestTags } from './request-tags';

const UNLOGGED_ROUTES = new Set(['/health/live']);

interface FinishedRequest {
  id: string;
  method: string;
  url: string;
  /** The client's address (behind a trusted proxy, the one it forwarded: TRUST_PROXY). */
  ip: string;
  routeOptions: { url?: string };
}

/**
 * One JSON line per request: request id, method, route, path, status, duration, client address, user,
 * why a token was refused, and the idempotency outcome. Never headers, tokens, query strings or bodies.
 */
export function logRequest(
  log: Pick<PinoLogger, 'info' | 'error'>,
  request: FinishedRequest,
  status: number,
  durationMs: number,
): void {
  const route = request.routeOptions.url;
  if (route && UNLOGGED_ROUTES.has(route)) return;
  const tags = requestTags(request);
  const line = {
    requestId: request.id,
    method: request.method,
    route: route ?? null,
    path: request.url.split('?', 1)[0],
    status,
    durationMs: Math.round(durationMs * 1000) / 1000,
    clientIp: request.ip,
    userId: tags.userId,
    authRefusal: tags.authRefusal,
    idempotency: tags.idempotency,
    idempotencyDegraded: tags.idempotencyDegraded,
  };
  if (status >= 500) log.error(line, 'request');
  else log.info(line, 'request');
}
