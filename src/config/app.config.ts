import { registerAs } from '@nestjs/config';
import {
  InvalidEnvironmentError,
  invalidVariable,
  optionalBool,
  optionalInt,
  optionalString,
} from './env';

export const appConfig = registerAs('app', () => ({
  port: optionalInt('PORT', 3000, { min: 0, max: 65535 }),
  /** 0: no admin server (no /metrics, no readiness details). */
  adminPort: readAdminPort(),
  host: optionalString('HOST', '0.0.0.0'),
  shutdownGraceMs: optionalInt('SHUTDOWN_GRACE_MS', 0, {
    min: 0,
    max: 600000,
  }),
  shutdownTimeoutMs: optionalInt('SHUTDOWN_TIMEOUT_MS', 10000, {
    min: 100,
    max: 600000,
  }),
  trustProxy: readTrustProxy(),
  http: readHttpServerLimits(),
  /** Empty: CORS off (no Access-Control-* headers). */
  corsOrigins: readCorsOrigins(),
  /** Off: no /docs and no /docs-json (the contract is still published in client/openapi.json). */
  docsEnabled: optionalBool('DOCS_ENABLED', true),
  /** Readiness answers from its last probe for this long: a flood of checks costs one ping a second. */
  healthCacheMs: optionalInt('HEALTH_CACHE_MS', 1000, { min: 0, max: 60000 }),
  adminHost: optionalString('ADMIN_HOST', '127.0.0.1'),
  testFault: readTestFault(),
}));

/** The admin server's port: never the API's (the second listen would fail with a confusing error). */
function readAdminPort(): number {
  const port = optionalInt('PORT', 3000, { min: 0, max: 65535 });
  const adminPort = optionalInt('ADMIN_PORT', 9464, { min: 0, max: 65535 });
  return adminPort !== 0 && adminPort === port
    ? invalidVariable(
        'ADMIN_PORT',
        `${adminPort} is also PORT: give the admin server a port of its own, or ADMIN_PORT=0 to turn it off`,
        adminPort,
      )
    : adminPort;
}

/**
 * Which proxies may set X-Forwarded-For (the client IP the rate limiter keys anonymous callers by):
 * `false` (default: the socket's address), `true` (any), or comma-separated IPs/CIDRs of the proxies.
 */
export function readTrustProxy(): boolean | string[] {
  const value = optionalString('TRUST_PROXY', 'false');
  if (value === 'false') return false;
  if (value === 'true') return true;
  const entries = value.split(',').map((entry) => entry.trim());
  if (entries.every((entry) => /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(entry)))
    return entries;
  return invalidVariable(
    'TRUST_PROXY',
    `"${value}" is not true, false or a list of IPs/CIDRs`,
    false,
  );
}

/**
 * How long a client may take and how many may connect: a slow sender (a slowloris, or a mobile
 * network that stops mid-upload) is cut off instead of holding a socket and a partial body forever.
 */
export function readHttpServerLimits() {
  const requestTimeoutMs = optionalInt('HTTP_REQUEST_TIMEOUT_MS', 10000, {
    min: 100,
    max: 600000,
  });
  return {
    requestTimeoutMs,
    headersTimeoutMs: Math.min(
      requestTimeoutMs,
      optionalInt('HTTP_HEADERS_TIMEOUT_MS', 5000, { min: 100, max: 600000 }),
    ),
    keepAliveTimeoutMs: optionalInt('HTTP_KEEP_ALIVE_TIMEOUT_MS', 72000, {
      min: 100,
      max: 600000,
    }),
    maxConnections: optionalInt('HTTP_MAX_CONNECTIONS', 1024, {
      min: 1,
      max: 1_000_000,
    }),
  };
}

export type HttpServerLimits = ReturnType<typeof readHttpServerLimits>;

/** A fault the process-level tests inject on purpose (see src/orders/test-faults.ts). */
export type TestFault =
  | { kind: 'none' }
  | { kind: 'crash-after-insert' }
  | { kind: 'crash-after-publish' }
  | { kind: 'delay-before-insert'; ms: number }
  | { kind: 'delay-after-listen'; ms: number };

/**
 * ORDERS_TEST_FAULT exists only for the crash and shutdown tests; a production process refuses to
 * start with it, so a stray value can never kill a real instance.
 */
function readTestFault(): TestFault {
  const value = optionalString('ORDERS_TEST_FAULT', '');
  if (value === '') return { kind: 'none' };
  if (optionalString('NODE_ENV', '') === 'production')
    throw new InvalidEnvironmentError(
      'ORDERS_TEST_FAULT',
      'must not be set when NODE_ENV is production',
    );
  if (value === 'crash-after-insert' || value === 'crash-after-publish')
    return { kind: value };
  const delay = /^(delay-before-insert|delay-after-listen):(\d{1,5})$/.exec(
    value,
  );
  if (delay)
    return {
      kind: delay[1] as 'delay-before-insert' | 'delay-after-listen',
      ms: Number(delay[2]),
    };
  throw new InvalidEnvironmentError(
    'ORDERS_TEST_FAULT',
    `"${value}" is not crash-after-insert, crash-after-publish, delay-before-insert:<ms> or delay-after-listen:<ms>`,
  );
}

/** Comma-separated origins (https://shop.example.com), or `*` for any; empty or unset: off. */
function readCorsOrigins(): string[] {
  const origins = optionalString('CORS_ORIGINS', '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  for (const origin of origins) {
    if (origin === '*') continue;
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.origin !== origin)
      throw new InvalidEnvironmentError(
        'CORS_ORIGINS',
        `"${origin}" is not an origin like https://shop.example.com`,
      );
  }
  return origins;
}
