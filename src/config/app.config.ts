import { registerAs } from '@nestjs/config';
import { InvalidEnvironmentError, optionalInt, optionalString } from './env';

export const appConfig = registerAs('app', () => ({
  port: optionalInt('PORT', 3000, { min: 0, max: 65535 }),
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
  testFault: readTestFault(),
}));

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
  throw new InvalidEnvironmentError(
    'TRUST_PROXY',
    `"${value}" is not true, false or a list of IPs/CIDRs`,
  );
}

/** A fault the process-level tests inject on purpose (see src/orders/test-faults.ts). */
export type TestFault =
  | { kind: 'none' }
  | { kind: 'crash-after-insert' }
  | { kind: 'delay-before-insert'; ms: number };

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
  if (value === 'crash-after-insert') return { kind: value };
  const delay = /^delay-before-insert:(\d{1,5})$/.exec(value);
  if (delay) return { kind: 'delay-before-insert', ms: Number(delay[1]) };
  throw new InvalidEnvironmentError(
    'ORDERS_TEST_FAULT',
    `"${value}" is not crash-after-insert or delay-before-insert:<ms>`,
  );
}
