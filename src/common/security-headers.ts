import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** helmet's headers for a request that came over plain HTTP and for one that came over TLS. */
export interface SecurityHeaders {
  plain: Record<string, string>;
  overTls: Record<string, string>;
}

/**
 * The headers helmet sets, computed once. helmet's middleware always sets the same headers for the
 * same options, so the request path only copies them; @fastify/helmet instead rebuilt the middleware
 * (and re-parsed the CSP) on every request, about 5% of a replay's CPU.
 *
 * HSTS and the CSP's `upgrade-insecure-requests` go only on answers to TLS requests (directly, or
 * through a trusted proxy's `X-Forwarded-Proto`): over plain HTTP they make a browser fetch the
 * Swagger UI's CSS and JS over https, and /docs renders blank from any host but localhost.
 */
export function securityHeaders(): SecurityHeaders {
  return {
    plain: helmetHeaders({
      strictTransportSecurity: false,
      contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
    }),
    overTls: helmetHeaders(),
  };
}

function helmetHeaders(
  options?: Parameters<typeof helmet>[0],
): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: string | number) => {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)(
    {} as IncomingMessage,
    response as unknown as ServerResponse,
    () => undefined,
  );
  return headers;
}

const HEADERS = securityHeaders();

/** The security headers for a request, by the protocol Fastify saw (or a trusted proxy reported). */
export function securityHeadersFor(request: {
  protocol: string;
}): Record<string, string> {
  return request.protocol === 'https' ? HEADERS.overTls : HEADERS.plain;
}
