import { createClient } from 'redis';
import { ThrottlerStorage } from '@nestjs/throttler';
import { RedisThrottlerStorage } from '../src/throttling/redis-throttler.storage';
import { TcpProxy } from './support/tcp-proxy';
import {
  createOrder,
  createTestApp,
  idempotencyRedisKey,
  newUser,
  send,
  TestApp,
  tokenFor,
} from './support/test-app';
import { testRedisUrl } from './support/test-env';

describe('Security headers and CORS', () => {
  let t: TestApp;
  let withCors: TestApp;
  let behindProxy: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    withCors = await createTestApp({
      env: { CORS_ORIGINS: 'https://shop.example.com' },
    });
    behindProxy = await createTestApp({ env: { TRUST_PROXY: '127.0.0.1' } });
  });
  afterAll(async () => {
    await t.close();
    await withCors.close();
    await behindProxy.close();
  });

  it('sends helmet security headers on every response, errors included', async () => {
    for (const response of [
      await send(t.url, 'GET', '/health/live'),
      await send(t.url, 'GET', '/orders'), // 401
    ]) {
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(response.headers.get('content-security-policy')).toMatch(
        /default-src 'self'/,
      );
    }
  });

  it('sends HSTS and upgrade-insecure-requests only over TLS, as a trusted proxy reports it', async () => {
    const overTls = { headers: { 'x-forwarded-proto': 'https' } };
    const answers = {
      plain: await send(t.url, 'GET', '/docs'),
      // An untrusted client cannot claim TLS: the header is ignored.
      claimed: await send(t.url, 'GET', '/docs', overTls),
      proxied: await send(behindProxy.url, 'GET', '/docs', overTls),
    };
    for (const plain of [answers.plain, answers.claimed]) {
      expect(plain.headers.get('strict-transport-security')).toBeNull();
      expect(plain.headers.get('content-security-policy')).not.toContain(
        'upgrade-insecure-requests',
      );
    }
    expect(answers.proxied.headers.get('strict-transport-security')).toMatch(
      /max-age=/,
    );
    expect(answers.proxied.headers.get('content-security-policy')).toContain(
      'upgrade-insecure-requests',
    );
  });

  it('has CORS off by default: no Access-Control-* headers for any origin', async () => {
    const preflight = await send(t.url, 'OPTIONS', '/orders', {
      headers: {
        origin: 'https://shop.example.com',
        'access-control-request-method': 'POST',
      },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows exactly the origins in CORS_ORIGINS, exposing the retry headers', async () => {
    const preflight = await send(withCors.url, 'OPTIONS', '/orders', {
      headers: {
        origin: 'https://shop.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,idempotency-key',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(
      'https://shop.example.com',
    );
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(
      /idempotency-key/,
    );
    const user = newUser();
    const created = await send(withCors.url, 'POST', '/orders', {
      token: tokenFor(user),
      key: 'cors-1',
      body: {
        currency: 'USD',
        items: [{ sku: 'A', quantity: 1, unitPriceCents: 1 }],
      },
      headers: { origin: 'https://shop.example.com' },
    });
    expect(created.headers.get('access-control-expose-headers')).toMatch(
      /idempotent-replayed/,
    );
    const stranger = await send(withCors.url, 'GET', '/health/live', {
      headers: { origin: 'https://evil.example.net' },
    });
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('keeps the 64 KiB body limit: 413 in the envelope', async () => {
    const response = await createOrder(t, tokenFor(newUser()), 'big-1', {
      currency: 'USD',
      items: [{ sku: 'A', quantity: 1, unitPriceCents: 1 }],
      note: 'x'.repeat(70 * 1024),
    });
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

const storageOf = (t: TestApp) =>
  t.app.get<RedisThrottlerStorage>(ThrottlerStorage);

describe('Rate limiting on Redis (THROTTLE_LIMIT per THROTTLE_TTL_MS)', () => {
  // A generous Redis timeout: the explicit sync() calls below must reach Redis even on a loaded CI
  // machine (a timed-out sync is the degraded mode, tested on its own below).
  const limits = {
    THROTTLE_LIMIT: '3',
    THROTTLE_TTL_MS: '60000',
    REDIS_COMMAND_TIMEOUT_MS: '5000',
  };
  let a: TestApp;
  let b: TestApp;
  let redis: TcpProxy;
  let cutOff: TestApp;
  beforeAll(async () => {
    a = await createTestApp({ env: limits });
    b = await createTestApp({ env: limits });
    redis = await TcpProxy.start(process.env.REDIS_URL!);
    cutOff = await createTestApp({
      env: { ...limits, REDIS_URL: redis.urlFor(process.env.REDIS_URL!) },
    });
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close(), cutOff.close()]);
    await redis.close();
  });

  it('gives each user one budget shared by every instance, then 429 in the envelope with Retry-After', async () => {
    const token = tokenFor(newUser());
    // Instances add their hits to Redis every THROTTLE_SYNC_MS (and learn the others' in the reply);
    // the test syncs by hand instead of waiting.
    expect((await send(a.url, 'GET', '/orders', { token })).status).toBe(200);
    expect((await send(a.url, 'GET', '/orders', { token })).status).toBe(200);
    await storageOf(a).sync();
    expect((await send(b.url, 'GET', '/orders', { token })).status).toBe(200);
    await storageOf(b).sync();
    const limited = await send(b.url, 'GET', '/orders', { token });
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({
      error: { code: 'TOO_MANY_REQUESTS', message: expect.any(String) },
    });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(
      1,
    );
    // Someone else is not affected, and neither are the health probes.
    const other = tokenFor(newUser());
    expect((await send(a.url, 'GET', '/orders', { token: other })).status).toBe(
      200,
    );
    for (let i = 0; i < 5; i++)
      expect((await send(a.url, 'GET', '/health/live')).status).toBe(200);
  });

  it('limits callers without a valid token per IP, so guessing tokens costs budget too', async () => {
    // A Redis database of its own: every suite calls from 127.0.0.1.
    const url = new URL(testRedisUrl(1));
    const direct = createClient({ url: url.toString() });
    await direct.connect();
    await direct.flushDb(); // no count left from an earlier run
    await direct.quit();
    const isolated = await createTestApp({
      env: { ...limits, REDIS_URL: url.toString() },
    });
    const behindProxy = await createTestApp({
      env: { ...limits, REDIS_URL: url.toString(), TRUST_PROXY: '127.0.0.1' },
    });
    const guess = (app: TestApp, i: number) =>
      send(app.url, 'GET', '/orders', {
        token: `bad.token.${i}`,
        headers: { 'x-forwarded-for': `203.0.113.${i}` },
      });
    try {
      const guesses = [];
      // X-Forwarded-For is not trusted by default: rotating it does not buy a fresh budget.
      for (let i = 0; i < 4; i++) guesses.push(await guess(isolated, i));
      expect(guesses.map((r) => r.status)).toEqual([401, 401, 401, 429]);
      // Behind a trusted proxy (TRUST_PROXY) each client address has its own budget.
      const proxied = [];
      for (let i = 10; i < 14; i++) proxied.push(await guess(behindProxy, i));
      expect(proxied.map((r) => r.status)).toEqual([401, 401, 401, 401]);
      // A real user keeps their own budget.
      expect(
        (
          await send(isolated.url, 'GET', '/orders', {
            token: tokenFor(newUser()),
          })
        ).status,
      ).toBe(200);
    } finally {
      await isolated.close();
      await behindProxy.close();
    }
  });

  it('keeps enforcing its own count when Redis is down: never fails open', async () => {
    const user = newUser();
    const token = tokenFor(user);
    redis.cut();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await createOrder(cutOff, token, `cut-${i}`)).status);
      await storageOf(cutOff).sync(); // finds Redis gone: the local count still holds
      for (let i = 3; i < 5; i++)
        statuses.push((await createOrder(cutOff, token, `cut-${i}`)).status);
      expect(statuses).toEqual([201, 201, 201, 429, 429]);
    } finally {
      redis.restore();
    }
  });
});

describe('GET /metrics (Prometheus, on the admin port)', () => {
  const redis = createClient({ url: process.env.REDIS_URL });
  let t: TestApp;
  beforeAll(async () => {
    await redis.connect();
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
    await redis.quit();
  });

  const idemKey = idempotencyRedisKey;
  const redisDel = (user: string, key: string) => redis.del(idemKey(user, key));

  async function scrape(): Promise<string> {
    const response = await send(t.adminUrl, 'GET', '/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    return response.body as string;
  }

  function value(metrics: string, series: string): number {
    const line = metrics
      .split('\n')
      .find((candidate) => candidate.startsWith(`${series} `));
    return line ? Number(line.split(' ')[1]) : 0;
  }

  const outcome = (name: string) =>
    `orders_idempotency_outcomes_total{outcome="${name}"}`;

  it('moves the counter of each idempotency outcome', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const before = await scrape();
    const first = await createOrder(t, token, 'm-1');
    await createOrder(t, token, 'm-1'); // replayed from Redis
    await redisDel(user, 'm-1');
    const fromDb = await createOrder(t, token, 'm-1'); // replayed from Postgres
    expect(fromDb.body.id).toBe(first.body.id);
    const reused = await createOrder(t, token, 'm-1', {
      currency: 'EUR',
      items: [{ sku: 'B', quantity: 1, unitPriceCents: 2 }],
    });
    expect(reused.status).toBe(422);
    const after = await scrape();
    for (const [name, moved] of [
      ['created', 1],
      ['replayed', 1],
      ['resolved', 1],
      ['key_reused', 1],
    ] as const)
      expect(value(after, outcome(name)) - value(before, outcome(name))).toBe(
        moved,
      );
  });

  it('counts conflict_in_flight and degraded too', async () => {
    const proxy = await TcpProxy.start(process.env.REDIS_URL!);
    const slow = await createTestApp({
      env: {
        ORDERS_TEST_FAULT: 'delay-before-insert:500',
        REDIS_URL: proxy.urlFor(process.env.REDIS_URL!),
      },
    });
    try {
      const user = newUser();
      const token = tokenFor(user);
      const scrapeSlow = async () =>
        (await send(slow.adminUrl, 'GET', '/metrics')).body as string;
      const before = await scrapeSlow();
      const first = createOrder(slow, token, 'c-1');
      // Held 500 ms before its INSERT: wait until its claim is in Redis.
      while (!(await redis.exists(idemKey(user, 'c-1'))))
        await new Promise((resolve) => setTimeout(resolve, 5));
      expect((await createOrder(slow, token, 'c-1')).status).toBe(409);
      expect((await first).status).toBe(201);
      proxy.cut();
      expect((await createOrder(slow, token, 'c-2')).status).toBe(201);
      proxy.restore();
      const after = await scrapeSlow();
      for (const name of ['conflict_in_flight', 'degraded'])
        expect(
          value(after, outcome(name)) - value(before, outcome(name)),
        ).toBeGreaterThanOrEqual(1);
    } finally {
      await slow.close();
      await proxy.close();
    }
  });

  it('has the request duration histogram by route and status, and the pool and Redis gauges', async () => {
    await send(t.url, 'GET', '/orders/00000000-0000-4000-8000-000000000000', {
      token: tokenFor(newUser()),
    });
    const metrics = await scrape();
    expect(
      value(
        metrics,
        'http_request_duration_seconds_count{method="GET",route="/orders/:id",status="404"}',
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/orders_db_pool_connections\{state="total"\} \d+/);
    expect(value(metrics, 'orders_redis_connected')).toBe(1);
  });
});
