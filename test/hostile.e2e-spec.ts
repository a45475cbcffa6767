import { sign } from 'jsonwebtoken';
import { createClient } from 'redis';
import { DataSource } from 'typeorm';
import { ThrottlerStorage } from '@nestjs/throttler';
import { RedisThrottlerStorage } from '../src/throttling/redis-throttler.storage';
import { rawBody, rawHttp } from './support/raw-http';
import { RedisServer, startRedisServer } from './support/redis-server';
import { createOwnDatabase } from './support/own-database';
import type { ScratchDatabase } from './support/scratch-database';
import { TcpProxy } from './support/tcp-proxy';
import {
  countOrders,
  createOrder,
  createTestApp,
  idempotencyRedisKey,
  newUser,
  send,
  TestApp,
  tokenFor,
  validOrder,
} from './support/test-app';
import { TEST_JWT_SECRET } from './support/test-env';

/** Each finding of the hostile-load review (issue 10) that an in-process app can reproduce. */
describe('Hostile input', () => {
  let t: TestApp;
  beforeAll(async () => (t = await createTestApp()));
  afterAll(() => t.close());

  describe('bodies built to make large errors', () => {
    it('refuses 21,000 empty items with one small 400, before validating any item', async () => {
      const rawBody = `{"currency":"USD","items":[${Array(21_000).fill('{}').join(',')}]}`;
      expect(rawBody.length).toBeGreaterThan(60_000);
      const response = await send(t.url, 'POST', '/orders', {
        token: tokenFor(newUser()),
        key: 'huge-items',
        rawBody,
      });
      expect(response.status).toBe(400);
      expect(response.body.error).toEqual({
        code: 'VALIDATION_FAILED',
        message: 'Request validation failed',
        details: [
          { field: 'items', message: 'must contain no more than 100 elements' },
        ],
      });
    });

    it('lists at most 20 details and says how many there were', async () => {
      const items = Array.from({ length: 100 }, () => ({}));
      const response = await createOrder(t, tokenFor(newUser()), 'many-bad', {
        currency: 'USD',
        items,
      });
      expect(response.status).toBe(400);
      expect(response.body.error.details).toHaveLength(20);
      expect(response.body.error.message).toMatch(
        /\(\d+ problems, the first 20 listed\)/,
      );
      expect(JSON.stringify(response.body).length).toBeLessThan(4096);
    });
  });

  describe('strings no layer below can store', () => {
    it.each([
      ['NUL in note', { ...validOrder(), note: 'a\u0000b' }, 'note'],
      [
        'NUL in sku',
        {
          ...validOrder(),
          items: [{ sku: 'A\u0000', quantity: 1, unitPriceCents: 1 }],
        },
        'items.0.sku',
      ],
      [
        'a lone surrogate in note',
        { ...validOrder(), note: 'x\ud800y' },
        'note',
      ],
    ])(
      'refuses %s: 400 VALIDATION_FAILED, nothing stored',
      async (_, body, field) => {
        const user = newUser();
        // JSON.stringify writes a lone surrogate as the escape \ud800, which is how a client sends it.
        const response = await createOrder(
          t,
          tokenFor(user),
          'unstorable',
          body,
        );
        expect(response.status).toBe(400);
        expect(response.body.error.code).toBe('VALIDATION_FAILED');
        expect(response.body.error.details[0].field).toBe(field);
        expect(await countOrders(t, user)).toBe(0);
      },
    );
  });

  describe('token subjects that would collapse users', () => {
    const tokenWithSub = (sub: string) =>
      sign({ sub }, TEST_JWT_SECRET, { algorithm: 'HS256', expiresIn: 60 });

    it.each([['\ud800'], ['\udfff'], ['user\u0000'], ['user\u001b[31m']])(
      'refuses sub %j with 401 on every route',
      async (sub) => {
        const token = tokenWithSub(sub);
        const list = await send(t.url, 'GET', '/orders', { token });
        const create = await createOrder(t, token, 'sub-key');
        const read = await send(
          t.url,
          'GET',
          '/orders/00000000-0000-4000-8000-000000000000',
          { token },
        );
        expect([list.status, create.status, read.status]).toEqual([
          401, 401, 401,
        ]);
        expect(create.body.error.code).toBe('UNAUTHORIZED');
      },
    );

    it('keeps two users apart whose subs differ only in a lone surrogate', async () => {
      // Before: both were stored as U+FFFD and saw each other's orders.
      const first = await createOrder(t, tokenWithSub('\ufffd'), 'shared');
      expect(first.status).toBe(201);
      const other = await send(t.url, 'GET', '/orders', {
        token: tokenWithSub('\ud800'),
      });
      expect(other.status).toBe(401);
    });

    it('refuses a token without exp (it would never expire)', async () => {
      const forever = sign({ sub: newUser() }, TEST_JWT_SECRET);
      expect(
        (await send(t.url, 'GET', '/orders', { token: forever })).status,
      ).toBe(401);
    });
  });

  it('answers a cursor from the far past with 400 INVALID_CURSOR', async () => {
    const cursor = Buffer.from(
      '["-271821-04-20T00:00:00.000Z","5b0c3c36-8d0a-4d1b-9d7e-0d5b8f9b1a11"]',
    ).toString('base64url');
    const response = await send(t.url, 'GET', `/orders?cursor=${cursor}`, {
      token: tokenFor(newUser()),
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('INVALID_CURSOR');
  });

  describe("Fastify's and Node's own errors", () => {
    const echoes = (text: string) => expect(text).not.toMatch(/%|zzzz/);

    it('a malformed URL: 400 in the envelope, the URL not echoed', async () => {
      const response = await send(t.url, 'GET', '/orders/%');
      expect(response.status).toBe(400);
      expect(response.body).toEqual({
        error: { code: 'BAD_REQUEST', message: 'The URL is malformed' },
      });
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-request-id')).toBeTruthy();
    });

    it('an over-long path segment: 414 in the envelope, not echoed', async () => {
      const response = await send(t.url, 'GET', `/orders/${'z'.repeat(1000)}`);
      expect(response.status).toBe(414);
      expect(response.body.error.code).toBe('URI_TOO_LONG');
      echoes(JSON.stringify(response.body));
    });

    it('an unknown route: 404 in the envelope, not echoed', async () => {
      const response = await send(t.url, 'GET', '/zzzz?token=zzzz');
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe('NOT_FOUND');
      echoes(JSON.stringify(response.body));
    });

    it('a bad Content-Length: 400 in the envelope, connection closed', async () => {
      const { response, closedAfterMs } = await rawHttp(
        t.url,
        'POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      );
      expect(response).toMatch(/^HTTP\/1\.1 400 /);
      expect(rawBody(response)).toEqual({
        error: { code: 'BAD_REQUEST', message: expect.any(String) },
      });
      expect(closedAfterMs).toBeDefined();
    });

    it('headers over the limit: 431 in the envelope', async () => {
      const { response } = await rawHttp(
        t.url,
        `GET /orders HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      );
      expect(response).toMatch(/^HTTP\/1\.1 431 /);
      expect(rawBody(response)).toMatchObject({
        error: { code: 'HEADERS_TOO_LARGE' },
      });
    });
  });

  describe('a replay after a cancel', () => {
    it('is the original response on both paths (Redis and Postgres); GET tells the current state', async () => {
      const user = newUser();
      const token = tokenFor(user);
      const created = await createOrder(t, token, 'cancel-then-retry');
      expect(created.body.status).toBe('created');
      const cancelled = await send(
        t.url,
        'DELETE',
        `/orders/${created.body.id}`,
        {
          token,
        },
      );
      expect(cancelled.body.status).toBe('cancelled');

      const fromRedis = await createOrder(t, token, 'cancel-then-retry');
      const redis = createClient({ url: process.env.REDIS_URL });
      await redis.connect();
      await redis.del(idempotencyRedisKey(user, 'cancel-then-retry'));
      await redis.quit();
      const fromPostgres = await createOrder(t, token, 'cancel-then-retry');
      const fromPostgresAgain = await createOrder(
        t,
        token,
        'cancel-then-retry',
      );

      for (const replay of [fromRedis, fromPostgres, fromPostgresAgain]) {
        expect(replay.status).toBe(201);
        expect(replay.headers.get('idempotent-replayed')).toBe('true');
        expect(replay.body).toEqual(created.body);
      }
      const current = await send(t.url, 'GET', `/orders/${created.body.id}`, {
        token,
      });
      expect(current.body.status).toBe('cancelled');
    });
  });

  it('serves /metrics only on the admin port', async () => {
    const onApi = await send(t.url, 'GET', '/metrics');
    expect(onApi.status).toBe(404);
    expect(onApi.body.error.code).toBe('NOT_FOUND');
    const onAdmin = await send(t.adminUrl, 'GET', '/metrics');
    expect(onAdmin.status).toBe(200);
    expect(onAdmin.body).toMatch(/orders_idempotency_outcomes_total/);
    expect((await send(t.adminUrl, 'GET', '/orders')).status).toBe(404);
  });
});

describe('Slow senders and connection floods', () => {
  let t: TestApp;
  beforeAll(
    async () =>
      (t = await createTestApp({
        env: {
          HTTP_REQUEST_TIMEOUT_MS: '1000',
          HTTP_HEADERS_TIMEOUT_MS: '500',
          HTTP_MAX_CONNECTIONS: '5',
        },
      })),
  );
  afterAll(() => t.close());

  it('closes a stalled upload within the request timeout (plus the 1 s check), with 408 in the envelope', async () => {
    const { response, closedAfterMs } = await rawHttp(
      t.url,
      'POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Content-Length: 1000\r\n\r\n{"currency":"USD",',
      6000,
    );
    expect(closedAfterMs).toBeDefined();
    expect(closedAfterMs!).toBeLessThan(1000 + 1000 + 1500);
    expect(response).toMatch(/^HTTP\/1\.1 408 /);
    expect(rawBody(response)).toMatchObject({
      error: { code: 'REQUEST_TIMEOUT' },
    });
  });

  it('closes a connection that never finishes its headers', async () => {
    const { closedAfterMs } = await rawHttp(
      t.url,
      'GET /orders HTTP/1.1\r\nHost: x\r\n',
      6000,
    );
    expect(closedAfterMs).toBeDefined();
    expect(closedAfterMs!).toBeLessThan(500 + 1000 + 1500);
  });

  it('refuses connections past HTTP_MAX_CONNECTIONS at once', async () => {
    const url = new URL(t.url);
    const { connect } = await import('node:net');
    const open = await Promise.all(
      Array.from(
        { length: 5 },
        () =>
          new Promise<import('node:net').Socket>((resolve) => {
            const socket = connect(Number(url.port), url.hostname, () =>
              resolve(socket),
            );
          }),
      ),
    );
    try {
      const extra = await rawHttp(
        t.url,
        'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n',
        3000,
      );
      expect(extra.response).toBe('');
      expect(extra.closedAfterMs).toBeDefined();
      expect(extra.closedAfterMs!).toBeLessThan(1000);
    } finally {
      for (const socket of open) socket.destroy();
    }
  });
});

describe('A locked orders table (what a non-concurrent CREATE INDEX does)', () => {
  let t: TestApp;
  // A database of its own: the lock must not hold up the suites running beside this one.
  let database: ScratchDatabase;
  // Long statement and pool timeouts: only lock_timeout can make the blocked writes give up early.
  beforeAll(async () => {
    database = await createOwnDatabase('locked_table');
    t = await createTestApp({
      env: {
        DATABASE_URL: database.url,
        DB_POOL_SIZE: '5',
        DB_STATEMENT_TIMEOUT_MS: '20000',
        DB_CONNECT_TIMEOUT_MS: '20000',
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await database.drop();
  });

  it('fails writes fast with 503, keeps reads and readiness up, and loses nothing', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const existing = await createOrder(t, token, 'before-lock');
    expect(existing.status).toBe(201);

    const locker = new DataSource({
      type: 'postgres',
      url: database.url,
    });
    await locker.initialize();
    const runner = locker.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    // CREATE INDEX (without CONCURRENTLY) takes this lock for its whole run: writes wait, reads go on.
    await runner.query('LOCK TABLE orders IN SHARE MODE');
    let creates: Awaited<ReturnType<typeof createOrder>>[];
    let reads: Awaited<ReturnType<typeof send>>[];
    let readiness: number[];
    const started = Date.now();
    let createsTookMs: number;
    try {
      const keys = Array.from({ length: 10 }, (_, i) => `during-lock-${i}`);
      const createsDone = Promise.all(
        keys.map((key) => createOrder(t, token, key)),
      ).then((all) => {
        createsTookMs = Date.now() - started;
        return all;
      });
      reads = await Promise.all(
        Array.from({ length: 20 }, () =>
          send(t.url, 'GET', `/orders/${existing.body.id}`, { token }),
        ),
      );
      readiness = [];
      for (let i = 0; i < 5; i++)
        readiness.push((await send(t.url, 'GET', '/health/ready')).status);
      creates = await createsDone;
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
      await locker.destroy();
    }
    expect(reads.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(readiness).toEqual([200, 200, 200, 200, 200]);
    for (const response of creates) {
      expect(response.status).toBe(503);
      expect(response.body.error.code).toBe('SERVICE_UNAVAILABLE');
    }
    // 10 writes through 3 write slots, each giving up after the 1 s lock_timeout: about 4 s, where
    // the statement timeout alone would hold the first ones for 20 s.
    expect(createsTookMs!).toBeLessThan(15_000);

    // Nothing was lost: the same keys, retried, make exactly one order each.
    for (let i = 0; i < 10; i++) {
      const retry = await createOrder(t, token, `during-lock-${i}`);
      expect(retry.status).toBe(201);
    }
    expect(await countOrders(t, user)).toBe(11);
  });
});

describe('A full Redis (maxmemory reached, noeviction)', () => {
  let server: RedisServer;
  let t: TestApp;
  beforeAll(async () => {
    server = await startRedisServer([
      '--maxmemory',
      '2mb',
      '--maxmemory-policy',
      'noeviction',
    ]);
    const filler = createClient({ url: server.url });
    await filler.connect();
    const chunk = 'x'.repeat(100_000);
    for (let i = 0; ; i++) {
      const full = await filler
        .set(`filler-${i}`, chunk)
        .then(() => false)
        .catch((error: Error) => /OOM/.test(error.message));
      if (full) break;
    }
    await filler.quit();
    t = await createTestApp({
      env: {
        REDIS_URL: server.url,
        THROTTLE_LIMIT: '3',
        REDIS_COMMAND_TIMEOUT_MS: '5000',
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await server.stop();
  });

  it('keeps the rate limit: each instance enforces its own count when Redis refuses writes', async () => {
    const token = tokenFor(newUser());
    const throttler = t.app.get<RedisThrottlerStorage>(ThrottlerStorage);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await send(t.url, 'GET', '/orders', { token })).status);
      await throttler.sync(); // Redis answers OOM to the counter update
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
  });

  it('still creates orders (Postgres decides) and replays them', async () => {
    const token = tokenFor(newUser());
    const first = await createOrder(t, token, 'full-redis');
    const retry = await createOrder(t, token, 'full-redis');
    expect([first.status, retry.status]).toEqual([201, 201]);
    expect(retry.body.id).toBe(first.body.id);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
  });
});

describe('A flood of readiness checks', () => {
  let postgres: TcpProxy;
  let t: TestApp;
  beforeAll(async () => {
    postgres = await TcpProxy.start(process.env.DATABASE_URL!);
    t = await createTestApp({
      env: { DATABASE_URL: postgres.urlFor(process.env.DATABASE_URL!) },
    });
  });
  afterAll(async () => {
    await t.close();
    await postgres.close();
  });

  it('costs Postgres one probe per HEALTH_CACHE_MS, on a connection outside the pool', async () => {
    expect((await send(t.url, 'GET', '/health/ready')).status).toBe(200);
    const before = postgres.requestsForwarded;
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => send(t.url, 'GET', '/health/ready')),
    );
    const seconds = Math.ceil((Date.now() - started) / 1000);
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    // One probe per started second at most, however many checks (before: one per check).
    expect(postgres.requestsForwarded - before).toBeLessThanOrEqual(
      seconds + 1,
    );
  });
});
