import { registerAs } from '@nestjs/config';
import { optionalInt, requiredString, urlWithProtocols } from './env';

export const idempotencyConfig = registerAs('idempotency', () => ({
  redisUrl: requiredString('REDIS_URL', urlWithProtocols('redis:', 'rediss:')),
  ttlSeconds: optionalInt('IDEMPOTENCY_TTL_SECONDS', 86400, {
    min: 1,
    max: 31536000,
  }),
  lockTtlMs: optionalInt('IDEMPOTENCY_LOCK_TTL_MS', 30000, {
    min: 100,
    max: 3600000,
  }),
  lockLeaseMs: optionalInt('IDEMPOTENCY_LOCK_LEASE_MS', 5000, {
    min: 100,
    max: 3600000,
  }),
  redisTimeoutMs: optionalInt('REDIS_COMMAND_TIMEOUT_MS', 250, {
    min: 10,
    max: 10000,
  }),
}));
