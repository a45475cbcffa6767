import { registerAs } from '@nestjs/config';
import { invalidVariable, optionalBool, optionalInt } from './env';

export const idempotencyConfig = registerAs('idempotency', () => ({
  ...readKeyRetention(),
  lockTtlMs: optionalInt('IDEMPOTENCY_LOCK_TTL_MS', 30000, {
    min: 100,
    max: 3600000,
  }),
  lockLeaseMs: optionalInt('IDEMPOTENCY_LOCK_LEASE_MS', 5000, {
    min: 100,
    max: 3600000,
  }),
  // Stored responses compressed (less Redis memory) or as JSON (less CPU); both are always read.
  compressResponses: optionalBool('IDEMPOTENCY_COMPRESS_RESPONSES', true),
}));

/**
 * How long Postgres keeps deduplicating a key. It must cover the Redis replay window, or a key could
 * make a new order while Redis still replays the old one.
 */
function readKeyRetention() {
  const ttlSeconds = optionalInt('IDEMPOTENCY_TTL_SECONDS', 86400, {
    min: 1,
    max: 31536000,
  });
  const keyRetentionSeconds = optionalInt(
    'IDEMPOTENCY_KEY_RETENTION_SECONDS',
    172800,
    { min: 1, max: 315360000 },
  );
  if (keyRetentionSeconds < ttlSeconds)
    invalidVariable(
      'IDEMPOTENCY_KEY_RETENTION_SECONDS',
      `${keyRetentionSeconds} is shorter than IDEMPOTENCY_TTL_SECONDS (${ttlSeconds})`,
      undefined,
    );
  return {
    ttlSeconds,
    keyRetentionSeconds,
    purgeIntervalSeconds: optionalInt(
      'IDEMPOTENCY_PURGE_INTERVAL_SECONDS',
      600,
      {
        min: 1,
        max: 86400,
      },
    ),
    purgeBatchSize: optionalInt('IDEMPOTENCY_PURGE_BATCH_SIZE', 1000, {
      min: 1,
      max: 100000,
    }),
  };
}
