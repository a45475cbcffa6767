import { randomBytes } from 'node:crypto';
import { RedisIdempotencyStorage } from '../src/idempotency';
import { describeIdempotencyStorageContract } from '../src/idempotency/testing';
import { RedisCircuitBreaker } from '../src/redis/redis-circuit-breaker';
import {
  closeRedisConnection,
  commanderFor,
  openRedisConnection,
} from '../src/redis/redis-connection';
import { until } from './support/until';
import { startRedisCluster } from './support/redis-topology';
import { TEST_REDIS_URL } from './support/test-env';

/**
 * The storage contract (src/idempotency/testing) against the real Redis topologies the app runs
 * on, through the app's own connection and gateway: a standalone server (plain and with encrypted
 * responses) and a 3-master Cluster. The in-memory storage runs it in its unit spec.
 */
async function redisStorage(
  mode: 'standalone' | 'cluster',
  url: string,
  options: ConstructorParameters<typeof RedisIdempotencyStorage>[1] = {},
) {
  const connection = openRedisConnection({
    mode,
    urls: url.split(','),
    sentinelMaster: '',
    commandTimeoutMs: 2000,
    circuitThreshold: 1000,
    circuitCooldownMs: 1000,
  });
  // The app's connection has no offline queue: the suite waits until a command goes through (a
  // cluster client is open before it knows the slots).
  const commander = commanderFor(connection);
  await until(
    () =>
      commander.sendCommand(['GET', 'contract:probe']).then(
        () => true,
        () => false,
      ),
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  const gateway = new RedisCircuitBreaker(commander, {
    timeoutMs: 5000,
    failureThreshold: 1000,
    cooldownMs: 1000,
    resetConnection: () => undefined,
  });
  return {
    storage: new RedisIdempotencyStorage(gateway, options),
    close: () => closeRedisConnection(connection, 2000),
  };
}

describeIdempotencyStorageContract('RedisIdempotencyStorage (standalone)', () =>
  redisStorage('standalone', TEST_REDIS_URL),
);

describeIdempotencyStorageContract(
  'RedisIdempotencyStorage (standalone, encrypted responses)',
  () =>
    redisStorage('standalone', TEST_REDIS_URL, {
      encryptionKeys: [randomBytes(32)],
    }),
);

describeIdempotencyStorageContract(
  'RedisIdempotencyStorage (Cluster of 3 masters)',
  async () => {
    const cluster = await startRedisCluster(3);
    const under = await redisStorage('cluster', cluster.url);
    return {
      storage: under.storage,
      close: async () => {
        await under.close();
        await cluster.stop();
      },
    };
  },
);
