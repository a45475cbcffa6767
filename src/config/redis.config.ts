import { registerAs } from '@nestjs/config';
import {
  optionalInt,
  optionalString,
  requiredString,
  urlWithProtocols,
  invalidVariable,
} from './env';

export type RedisMode = 'standalone' | 'cluster' | 'sentinel';

/** The one Redis connection: where it is, and how long the app waits for it before going without. */
export const redisConfig = registerAs('redis', () => ({
  ...readRedisTopology(),
  commandTimeoutMs: optionalInt('REDIS_COMMAND_TIMEOUT_MS', 250, {
    min: 10,
    max: 10000,
  }),
  circuitThreshold: optionalInt('REDIS_CIRCUIT_THRESHOLD', 3, {
    min: 1,
    max: 1000,
  }),
  circuitCooldownMs: optionalInt('REDIS_CIRCUIT_COOLDOWN_MS', 1000, {
    min: 50,
    max: 600000,
  }),
}));

/**
 * REDIS_URL names one server, or (comma-separated) the cluster's root nodes or the sentinels;
 * REDIS_MODE says which, as node-redis's createClient / createCluster / createSentinel take them.
 */
function readRedisTopology() {
  const mode = optionalString('REDIS_MODE', 'standalone');
  if (mode !== 'standalone' && mode !== 'cluster' && mode !== 'sentinel')
    return invalidVariable(
      'REDIS_MODE',
      `"${mode}" is not standalone, cluster or sentinel`,
      { mode: 'standalone', urls: [], sentinelMaster: '' },
    );
  const urls = requiredString('REDIS_URL', (value) => {
    const parts = value.split(',');
    if (mode === 'standalone' && parts.length > 1)
      return 'names several servers; set REDIS_MODE=cluster or sentinel';
    for (const part of parts) {
      const problem = urlWithProtocols(
        ['redis:', 'rediss:'],
        'redis://127.0.0.1:6379 (or rediss://user:password@host:6380/0)',
      )(part.trim());
      if (problem) return problem;
    }
    return undefined;
  })
    .split(',')
    .map((url) => url.trim());
  const sentinelMaster = optionalString('REDIS_SENTINEL_MASTER', 'mymaster');
  return { mode, urls, sentinelMaster };
}
