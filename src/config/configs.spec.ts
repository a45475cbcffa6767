import { idempotencyConfig } from './idempotency.config';
import { appConfig } from './app.config';
import { commandKey } from '../redis/redis.module';

function withEnv<T>(env: Record<string, string>, read: () => T): T {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return read();
  } finally {
    process.env = saved;
  }
}

describe('REDIS_URL and REDIS_MODE', () => {
  it('reads one server, cluster root nodes, or sentinels', () => {
    expect(
      withEnv({ REDIS_URL: 'redis://r:6379' }, idempotencyConfig),
    ).toMatchObject({ redisMode: 'standalone', redisUrls: ['redis://r:6379'] });
    expect(
      withEnv(
        { REDIS_MODE: 'cluster', REDIS_URL: 'redis://a:7000, redis://b:7001' },
        idempotencyConfig,
      ),
    ).toMatchObject({
      redisMode: 'cluster',
      redisUrls: ['redis://a:7000', 'redis://b:7001'],
    });
    expect(
      withEnv(
        {
          REDIS_MODE: 'sentinel',
          REDIS_URL: 'redis://s1:26379,redis://s2:26379',
          REDIS_SENTINEL_MASTER: 'orders',
        },
        idempotencyConfig,
      ),
    ).toMatchObject({ redisMode: 'sentinel', sentinelMaster: 'orders' });
  });

  it('names the variable when the topology is wrong', () => {
    expect(() =>
      withEnv({ REDIS_URL: 'redis://a,redis://b' }, idempotencyConfig),
    ).toThrow(/REDIS_URL: names several servers; set REDIS_MODE/);
    expect(() =>
      withEnv(
        { REDIS_MODE: 'ring', REDIS_URL: 'redis://a' },
        idempotencyConfig,
      ),
    ).toThrow(/REDIS_MODE: "ring" is not/);
    expect(() =>
      withEnv(
        { REDIS_MODE: 'cluster', REDIS_URL: 'redis://a,http://b' },
        idempotencyConfig,
      ),
    ).toThrow(/REDIS_URL: protocol must be one of/);
  });

  it('routes each command to the slot of the key it touches', () => {
    expect(commandKey(['SET', 'idem:u:k', '{}', 'NX'])).toBe('idem:u:k');
    expect(commandKey(['EVALSHA', 'abc', '1', 'idem:u:k', 'tok'])).toBe(
      'idem:u:k',
    );
    expect(commandKey(['PING'])).toBeUndefined();
  });
});

describe('ORDERS_TEST_FAULT', () => {
  it('is refused in production, so a stray value can never kill a real instance', () => {
    expect(() =>
      withEnv(
        { NODE_ENV: 'production', ORDERS_TEST_FAULT: 'crash-after-insert' },
        appConfig,
      ),
    ).toThrow(/ORDERS_TEST_FAULT: must not be set when NODE_ENV is production/);
    expect(
      withEnv({ ORDERS_TEST_FAULT: 'delay-before-insert:250' }, appConfig)
        .testFault,
    ).toEqual({ kind: 'delay-before-insert', ms: 250 });
    expect(() => withEnv({ ORDERS_TEST_FAULT: 'explode' }, appConfig)).toThrow(
      /ORDERS_TEST_FAULT/,
    );
  });
});

describe('IDEMPOTENCY_KEY_RETENTION_SECONDS', () => {
  it('defaults to 48 h and is never shorter than the Redis replay window', () => {
    expect(
      withEnv({ REDIS_URL: 'redis://r' }, idempotencyConfig),
    ).toMatchObject({ keyRetentionSeconds: 172800, ttlSeconds: 86400 });
    expect(() =>
      withEnv(
        {
          REDIS_URL: 'redis://r',
          IDEMPOTENCY_TTL_SECONDS: '7200',
          IDEMPOTENCY_KEY_RETENTION_SECONDS: '3600',
        },
        idempotencyConfig,
      ),
    ).toThrow(
      /IDEMPOTENCY_KEY_RETENTION_SECONDS: 3600 is shorter than IDEMPOTENCY_TTL_SECONDS \(7200\)/,
    );
  });
});

describe('TRUST_PROXY', () => {
  it('is off by default, and takes true or a list of proxy addresses', () => {
    expect(withEnv({}, appConfig).trustProxy).toBe(false);
    expect(withEnv({ TRUST_PROXY: 'true' }, appConfig).trustProxy).toBe(true);
    expect(
      withEnv({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }, appConfig).trustProxy,
    ).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(() => withEnv({ TRUST_PROXY: 'nginx' }, appConfig)).toThrow(
      /TRUST_PROXY/,
    );
  });
});
