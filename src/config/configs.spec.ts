import { paymentsConfig } from './payments.config';
import { eventsConfig } from './events.config';
import { loggingConfig } from './logging.config';
import { idempotencyConfig } from './idempotency.config';
import { redisConfig } from './redis.config';
import { appConfig, readHttpServerLimits } from './app.config';
import { authConfig } from './auth.config';
import { commandKey } from '../redis/redis-connection';

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
    expect(withEnv({ REDIS_URL: 'redis://r:6379' }, redisConfig)).toMatchObject(
      { mode: 'standalone', urls: ['redis://r:6379'] },
    );
    expect(
      withEnv(
        { REDIS_MODE: 'cluster', REDIS_URL: 'redis://a:7000, redis://b:7001' },
        redisConfig,
      ),
    ).toMatchObject({
      mode: 'cluster',
      urls: ['redis://a:7000', 'redis://b:7001'],
    });
    expect(
      withEnv(
        {
          REDIS_MODE: 'sentinel',
          REDIS_URL: 'redis://s1:26379,redis://s2:26379',
          REDIS_SENTINEL_MASTER: 'orders',
        },
        redisConfig,
      ),
    ).toMatchObject({ mode: 'sentinel', sentinelMaster: 'orders' });
  });

  it('names the variable when the topology is wrong', () => {
    expect(() =>
      withEnv({ REDIS_URL: 'redis://a,redis://b' }, redisConfig),
    ).toThrow(/REDIS_URL: names several servers; set REDIS_MODE/);
    expect(() =>
      withEnv({ REDIS_MODE: 'ring', REDIS_URL: 'redis://a' }, redisConfig),
    ).toThrow(/REDIS_MODE: "ring" is not/);
    expect(() =>
      withEnv(
        { REDIS_MODE: 'cluster', REDIS_URL: 'redis://a,http://b' },
        redisConfig,
      ),
    ).toThrow(/REDIS_URL: must start with redis:\/\/ or rediss:\/\//);
  });

  it('shows the expected form of a REDIS_URL without a scheme', () => {
    for (const value of ['localhost:6379', '127.0.0.1:6379'])
      expect(() => withEnv({ REDIS_URL: value }, redisConfig)).toThrow(
        /REDIS_URL: .*redis:\/\/127\.0\.0\.1:6379/,
      );
  });

  it('routes each command to the slot of the key it touches', () => {
    expect(commandKey(['SET', 'idem:u:k', '{}', 'NX'])).toBe('idem:u:k');
    expect(commandKey(['EVALSHA', 'abc', '1', 'idem:u:k', 'tok'])).toBe(
      'idem:u:k',
    );
    expect(commandKey(['PING'])).toBeUndefined();
  });
});

describe('PORT and ADMIN_PORT', () => {
  it('refuses the same port for both, naming ADMIN_PORT; ADMIN_PORT=0 turns the admin server off', () => {
    expect(() =>
      withEnv({ PORT: '8080', ADMIN_PORT: '8080' }, appConfig),
    ).toThrow(/ADMIN_PORT: 8080 is also PORT/);
    expect(withEnv({ PORT: '8080', ADMIN_PORT: '0' }, appConfig)).toMatchObject(
      { port: 8080, adminPort: 0 },
    );
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

describe('IDEMPOTENCY_COMPRESS_RESPONSES', () => {
  it('defaults to compressed entries, and takes false for JSON ones', () => {
    expect(withEnv({}, idempotencyConfig).compressResponses).toBe(true);
    expect(
      withEnv({ IDEMPOTENCY_COMPRESS_RESPONSES: 'false' }, idempotencyConfig)
        .compressResponses,
    ).toBe(false);
    expect(() =>
      withEnv({ IDEMPOTENCY_COMPRESS_RESPONSES: 'zip' }, idempotencyConfig),
    ).toThrow(/IDEMPOTENCY_COMPRESS_RESPONSES/);
  });
});

describe('IDEMPOTENCY_ENCRYPTION_KEYS', () => {
  it('reads 32-byte keys in base64 or hex, and refuses any other, naming the variable and not the key', () => {
    const base64 = Buffer.alloc(32, 1).toString('base64');
    const hex = Buffer.alloc(32, 2).toString('hex');
    expect(
      withEnv(
        { IDEMPOTENCY_ENCRYPTION_KEYS: `${base64}, ${hex}` },
        idempotencyConfig,
      ).encryptionKeys,
    ).toEqual([Buffer.alloc(32, 1), Buffer.alloc(32, 2)]);
    expect(withEnv({}, idempotencyConfig).encryptionKeys).toEqual([]);
    for (const bad of ['c2hvcnQ=', 'not a key at all', `${hex}00`])
      expect(() =>
        withEnv({ IDEMPOTENCY_ENCRYPTION_KEYS: bad }, idempotencyConfig),
      ).toThrow(
        /^(?!.*c2hvcnQ).*IDEMPOTENCY_ENCRYPTION_KEYS: key 1 is not 32 bytes in base64 or hex/s,
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

describe('JWT_SECRET and token rules', () => {
  const secret = (value: string) => () =>
    withEnv({ JWT_SECRET: value }, authConfig);

  it.each([
    ['16 characters', 'abcdefghijklmnop', /at least 32 bytes/],
    ['one letter repeated', 'a'.repeat(40), /too few characters/],
    [
      "the old compose file's placeholder",
      'change-me-to-a-long-random-secret',
      /placeholder/,
    ],
    [
      'a secret-secret-secret filler',
      'secretsecretsecretsecret-1234567890',
      /placeholder/,
    ],
  ])('refuses %s, naming the variable', (_, value, problem) => {
    expect(secret(value)).toThrow(/Invalid environment variable JWT_SECRET/);
    expect(secret(value)).toThrow(problem);
  });

  it('accepts a random 32-byte hex secret, requires exp by default, and reads iss/aud', () => {
    const value =
      'f3a9c2e5b8d1f4a6c0e9b2d7a5f3c8e17b2d9e4f6a1c3b5d7e9f0a2c4b6d8e0f';
    expect(secret(value)()).toEqual({
      jwtSecret: value,
      requireExp: true,
      maxLifetimeSeconds: 86400,
      clockToleranceSeconds: 30,
      issuer: undefined,
      audience: undefined,
    });
    expect(
      withEnv(
        {
          JWT_SECRET: value,
          JWT_REQUIRE_EXP: 'false',
          JWT_ISSUER: 'auth.example',
          JWT_AUDIENCE: 'orders',
          JWT_MAX_LIFETIME_SECONDS: '3600',
          JWT_CLOCK_TOLERANCE_SECONDS: '0',
        },
        authConfig,
      ),
    ).toMatchObject({
      requireExp: false,
      maxLifetimeSeconds: 3600,
      clockToleranceSeconds: 0,
      issuer: 'auth.example',
      audience: 'orders',
    });
  });
});

describe('HTTP server limits', () => {
  it('has defaults, and never a header timeout longer than the request timeout', () => {
    expect(withEnv({}, readHttpServerLimits)).toEqual({
      requestTimeoutMs: 10000,
      headersTimeoutMs: 5000,
      keepAliveTimeoutMs: 72000,
      maxConnections: 1024,
    });
    expect(
      withEnv({ HTTP_REQUEST_TIMEOUT_MS: '2000' }, readHttpServerLimits)
        .headersTimeoutMs,
    ).toBe(2000);
  });
});

describe('LOG_FORMAT', () => {
  const atTerminal = <T>(isTTY: boolean, read: () => T): T => {
    const saved = process.stdout.isTTY;
    process.stdout.isTTY = isTTY;
    try {
      return read();
    } finally {
      process.stdout.isTTY = saved;
    }
  };

  it('is pretty for a developer at a terminal, JSON in production and when piped', () => {
    const format = (env: Record<string, string>, isTTY: boolean) =>
      atTerminal(isTTY, () => withEnv(env, loggingConfig).format);
    expect(format({ NODE_ENV: 'development' }, true)).toBe('pretty');
    expect(format({ NODE_ENV: 'production' }, true)).toBe('json');
    expect(format({ NODE_ENV: 'development' }, false)).toBe('json');
    expect(
      format({ LOG_FORMAT: 'pretty', NODE_ENV: 'production' }, false),
    ).toBe('pretty');
    expect(format({ LOG_FORMAT: 'JSON' }, true)).toBe('json');
  });

  it('names the variable when the format is unknown', () => {
    expect(() => withEnv({ LOG_FORMAT: 'xml' }, loggingConfig)).toThrow(
      /LOG_FORMAT: "xml" is not one of auto, json, pretty/,
    );
  });
});

describe('PAYMENT_WEBHOOK_SECRETS and PAYMENT_EVENT_RETENTION_SECONDS', () => {
  it('reads one or more whsec_ secrets; none turns webhooks off', () => {
    expect(withEnv({}, paymentsConfig).webhookSecrets).toEqual([]);
    expect(
      withEnv(
        {
          PAYMENT_WEBHOOK_SECRETS:
            'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, whsec_QWxzb0FTZWNyZXRCdXROb3RUaGVPbmVXZVVzZQ==',
        },
        paymentsConfig,
      ).webhookSecrets,
    ).toHaveLength(2);
    expect(withEnv({}, paymentsConfig).eventRetentionSeconds).toBe(604800);
  });

  it('names the variable for a secret that is not whsec_ and base64, and a retention inside the tolerance', () => {
    for (const secret of [
      'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'whsec_short',
      'whsec_not base64!!!!!!!!!!!',
    ]) {
      expect(() =>
        withEnv({ PAYMENT_WEBHOOK_SECRETS: secret }, paymentsConfig),
      ).toThrow(/PAYMENT_WEBHOOK_SECRETS: secret 1 is not whsec_/);
    }
    expect(() =>
      withEnv({ PAYMENT_EVENT_RETENTION_SECONDS: '60' }, paymentsConfig),
    ).toThrow(/PAYMENT_EVENT_RETENTION_SECONDS/);
  });
});

describe('NATS_URL and the EVENTS_* settings', () => {
  it('turns events off when NATS_URL is empty, and reads comma-separated nats:// servers', () => {
    expect(withEnv({ NATS_URL: '' }, eventsConfig).natsServers).toEqual([]);
    expect(
      withEnv({ NATS_URL: 'nats://a:4222, nats://b:4222' }, eventsConfig),
    ).toMatchObject({
      natsServers: ['nats://a:4222', 'nats://b:4222'],
      stream: 'ORDERS',
      streamReplicas: 1,
      duplicateWindowSeconds: 300,
    });
  });

  it('refuses what is not a nats:// URL, a bad stream name, and a duplicate window under 2 minutes', () => {
    expect(() => withEnv({ NATS_URL: 'localhost:4222' }, eventsConfig)).toThrow(
      /NATS_URL: "localhost:4222" is not a nats:\/\/ URL/,
    );
    expect(() =>
      withEnv(
        { NATS_URL: 'nats://a:4222', EVENTS_STREAM: 'a.b' },
        eventsConfig,
      ),
    ).toThrow(/EVENTS_STREAM/);
    expect(() =>
      withEnv({ EVENTS_DUPLICATE_WINDOW_SECONDS: '60' }, eventsConfig),
    ).toThrow(/EVENTS_DUPLICATE_WINDOW_SECONDS: 60 is outside 120\.\.86400/);
  });

  it('deletes acknowledged outbox rows by default, and keeps them for a retention when one is set', () => {
    expect(withEnv({}, eventsConfig).outboxRetentionSeconds).toBe(0);
    expect(
      withEnv({ EVENTS_OUTBOX_RETENTION_SECONDS: '86400' }, eventsConfig)
        .outboxRetentionSeconds,
    ).toBe(86400);
    expect(() =>
      withEnv({ EVENTS_OUTBOX_RETENTION_SECONDS: '-1' }, eventsConfig),
    ).toThrow(/EVENTS_OUTBOX_RETENTION_SECONDS: -1 is outside 0\.\.315360000/);
  });
});
