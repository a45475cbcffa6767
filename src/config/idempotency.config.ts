import { registerAs } from '@nestjs/config';
import {
  InvalidEnvironmentError,
  optionalInt,
  optionalString,
  requiredString,
  urlWithProtocols,
} from './env';

export type RedisMode = 'standalone' | 'cluster' | 'sentinel';

export const idempotencyConfig = registerAs('idempotency', () => ({
  ...readRedisTopology(),
  ...readKeyRetention(),
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
  redisCircuitThreshold: optionalInt('REDIS_CIRCUIT_THRESHOLD', 3, {
    min: 1,
    max: 1000,
  }),
  redisCircuitCooldownMs: optionalInt('REDIS_CIRCUIT_COOLDOWN_MS', 1000, {
    min: 50,
    max: 600000,
  }),
}));

/**
 * REDIS_URL names one server, or (comma-separated) the cluster's root nodes or the sentinels;
 * REDIS_MODE says which, as @keyv/redis's createClient / createCluster / createSentinel take them.
 */
function readRedisTopology() {
  const mode = optionalString('REDIS_MODE', 'standalone');
  if (mode !== 'standalone' && mode !== 'cluster' && mode !== 'sentinel')
    throw new InvalidEnvironmentError(
      'REDIS_MODE',
      `"${mode}" is not standalone, cluster or sentinel`,
    );
  const urls = requiredString('REDIS_URL', (value) => {
    const parts = value.split(',');
    if (mode === 'standalone' && parts.length > 1)
      return 'names several servers; set REDIS_MODE=cluster or sentinel';
    for (const part of parts) {
      const problem = urlWithProtocols('redis:', 'rediss:')(part.trim());
      if (problem) return problem;
    }
    return undefined;
  })
    .split(',')
    .map((url) => url.trim());
  const sentinelMaster = optionalString('REDIS_SENTINEL_MASTER', 'mymaster');
  return { redisMode: mode, redisUrls: urls, sentinelMaster };
}

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
    throw new InvalidEnvironmentError(
      'IDEMPOTENCY_KEY_RETENTION_SECONDS',
      `${keyRetentionSeconds} is shorter than IDEMPOTENCY_TTL_SECONDS (${ttlSeconds})`,
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
