import { createClient } from 'redis';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { AppProcess, startAppProcess } from './support/app-process';
import { until } from './support/until';
import {
  idempotencyRedisKey,
  newUser,
  readIdempotencyEntry,
  send,
  Sent,
  tokenFor,
  validOrder,
  retryWhileInFlight,
} from './support/test-app';

// Separate OS processes of the production build (dist/main.js): scale-out, SIGKILL and SIGTERM.

const db = new Client({ connectionString: process.env.DATABASE_URL });
const redis = createClient({ url: process.env.REDIS_URL });
beforeAll(async () => {
  await db.connect();
  await redis.connect();
});
afterAll(async () => {
  await db.end();
  await redis.quit();
});

async function ordersOf(userId: string): Promise<{ id: string }[]> {
  const result = await db.query<{ id: string }>(
    'SELECT id FROM orders WHERE user_id = $1',
    [userId],
  );
  return result.rows;
}

const post = (app: AppProcess, token: string, key: string): Promise<Sent> =>
  send(app.url, 'POST', '/orders', { token, key, body: validOrder() });

/** GET on a fresh connection (no keep-alive reuse), to see what a new client sees. */
function getOnNewConnection(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('three instances on one Postgres and one Redis', () => {
  let apps: AppProcess[];
  beforeAll(async () => {
    apps = await Promise.all([1, 2, 3].map(() => startAppProcess()));
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()));
  });

  it('turns 30 same-key requests spread over them into one order: 201s with its id, the rest 409 or replays', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => post(apps[i % 3], token, 'burst')),
    );
    const orders = await ordersOf(user);
    expect(orders).toHaveLength(1);
    for (const response of responses) {
      expect([201, 409]).toContain(response.status);
      if (response.status === 201) expect(response.body.id).toBe(orders[0].id);
      else
        expect(response.body.error.code).toBe(
          'IDEMPOTENCY_REQUEST_IN_PROGRESS',
        );
    }
    const created = responses.filter(
      (r) => r.status === 201 && !r.headers.get('idempotent-replayed'),
    );
    expect(created.length).toBeLessThanOrEqual(1);
    // Whoever answers the retry, it is the same order.
    for (const app of apps) {
      const retry = await retryWhileInFlight(() => post(app, token, 'burst'));
      expect(retry.status).toBe(201);
      expect(retry.body.id).toBe(orders[0].id);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
    }
  });

  it('turns 20 different keys in parallel over the three into exactly 20 orders', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => post(apps[i % 3], token, `k-${i}`)),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(201));
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(20);
    expect(await ordersOf(user)).toHaveLength(20);
  });
});

describe('an instance killed (SIGKILL) after the order committed, before the response was stored', () => {
  const lockTtlMs = 60000;

  it('answers the retry on a restarted instance with that order (201, replay header) within one lease, not a 409 for the lock TTL', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const env = {
      IDEMPOTENCY_LOCK_TTL_MS: String(lockTtlMs),
      // Long enough that the dead owner's lock is surely still there when the test looks (even on a
      // loaded machine), far shorter than the lock TTL.
      IDEMPOTENCY_LOCK_LEASE_MS: '3000',
    };
    const doomed = await startAppProcess({
      ...env,
      ORDERS_TEST_FAULT: 'crash-after-insert',
    });
    await expect(post(doomed, token, 'crash-1')).rejects.toThrow();
    expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const killedAt = Date.now();

    // The window is real: the row committed, and Redis still holds the dead owner's lock.
    const orders = await ordersOf(user);
    expect(orders).toHaveLength(1);
    expect(await readIdempotencyEntry(redis, user, 'crash-1')).toMatchObject({
      state: 'in_flight',
    });

    const restarted = await startAppProcess(env);
    const readyAt = Date.now();
    try {
      let retry = await post(restarted, token, 'crash-1');
      while (retry.status === 409 && Date.now() - killedAt < lockTtlMs) {
        await sleep(200);
        retry = await post(restarted, token, 'crash-1');
      }
      expect(retry.status).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(retry.body.id).toBe(orders[0].id);
      // Freed by the lapsed lease (3 s), not the lock TTL (60 s): within a lease of the restarted
      // instance's readiness (its boot, seconds on a loaded machine, is not the lock's doing), and far
      // before the TTL would have let it go.
      expect(Date.now() - readyAt).toBeLessThan(10_000);
      expect(Date.now() - killedAt).toBeLessThan(lockTtlMs * 0.75);
      expect(await ordersOf(user)).toHaveLength(1);
    } finally {
      await restarted.stop();
    }
    // Two boots of the production build: over 30 s together with a core hogged beside the other suites.
  }, 90_000);
});

describe('graceful shutdown (SIGTERM)', () => {
  it('reports not ready, refuses new connections, finishes requests in flight, closes Postgres and Redis, and exits 0', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const app = await startAppProcess({
      SHUTDOWN_GRACE_MS: '1500',
      ORDERS_TEST_FAULT: 'delay-before-insert:3000',
    });
    const inFlight = [1, 2, 3].map((i) => post(app, token, `drain-${i}`));
    // In flight for sure: each has claimed its key (the claim comes before the held INSERT).
    for (const i of [1, 2, 3])
      await until(async () =>
        Boolean(await redis.exists(idempotencyRedisKey(user, `drain-${i}`))),
      );
    app.child.kill('SIGTERM');

    // Grace period: still serving, but readiness says no so that a load balancer moves away.
    await until(
      async () => (await getOnNewConnection(`${app.url}/health/ready`)) === 503,
    );
    expect(await getOnNewConnection(`${app.url}/health`)).toBe(503);
    expect(await getOnNewConnection(`${app.url}/health/live`)).toBe(200);

    // After the grace period the listener is closed: new connections are refused.
    await until(() =>
      getOnNewConnection(`${app.url}/health/live`).then(
        () => false,
        (error: { code?: string }) => error.code === 'ECONNREFUSED',
      ),
    );

    // The requests accepted before SIGTERM all complete, and their responses reached Redis.
    const responses = await Promise.all(inFlight);
    expect(responses.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(await ordersOf(user)).toHaveLength(3);
    expect(await readIdempotencyEntry(redis, user, 'drain-1')).toMatchObject({
      state: 'completed',
    });

    // Exit 0 by itself: nothing (pool, Redis, timers) was left open to keep the process alive.
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.output()).not.toMatch(/shutdown (timed out|failed)/);
  });

  it('a signal during start-up: finishes starting, then shuts down and exits 0 (nothing opened after the hooks closed it)', async () => {
    // Listening, then 1.5 s before the start-up line (whose readiness probe opens a connection).
    const app = await startAppProcess({
      ORDERS_TEST_FAULT: 'delay-after-listen:1500',
      SHUTDOWN_TIMEOUT_MS: '5000',
    });
    // A readiness check beside the start-up line's probe: two probes at once leaked a client once.
    const ready = getOnNewConnection(`${app.url}/health/ready`);
    app.child.kill('SIGTERM');
    await ready.catch(() => undefined);

    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.output()).toMatch(/orders listening on/);
    expect(app.output()).not.toMatch(
      /shutdown (timed out|failed)|failed to start/,
    );
  });
});

describe('structured request logs (LOG_LEVEL=info)', () => {
  it('writes one JSON line per request with its id, route, status, duration, client address, user, outcome and token refusal, and no secrets', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const app = await startAppProcess({
      LOG_LEVEL: 'info',
      TRUST_PROXY: '127.0.0.1',
    });
    try {
      const headers = {
        'x-request-id': 'log-test-1',
        'x-forwarded-for': '198.51.100.23',
      };
      await send(app.url, 'POST', '/orders', {
        token,
        key: 'log-1',
        body: validOrder(),
        headers,
      });
      await send(app.url, 'POST', '/orders', {
        token,
        key: 'log-1',
        body: validOrder(),
        headers: { 'x-request-id': 'log-test-2' },
      });
      await send(app.url, 'GET', '/orders?limit=5&cursor=secret-cursor', {
        token,
        headers: { 'x-request-id': 'log-test-3' },
      });
      await send(app.url, 'GET', '/orders', {
        token: tokenFor(user, { expiresIn: -120 }),
        headers: { 'x-request-id': 'log-test-4' },
      });
    } finally {
      expect(await app.stop()).toEqual({ code: 0, signal: null });
    }
    const lines = app
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const byId = (id: string) => lines.filter((l) => l.requestId === id);
    expect(byId('log-test-1')).toEqual([
      expect.objectContaining({
        msg: 'request',
        method: 'POST',
        route: '/orders',
        path: '/orders',
        status: 201,
        durationMs: expect.any(Number),
        clientIp: '198.51.100.23', // the client behind the trusted proxy
        userId: user,
        idempotency: 'created',
      }),
    ]);
    // Why a token was refused is logged, never answered.
    expect(byId('log-test-4')[0]).toMatchObject({
      status: 401,
      clientIp: '127.0.0.1',
      authRefusal: 'expired',
    });
    expect(byId('log-test-2')[0]).toMatchObject({
      idempotency: 'replayed',
    });
    expect(byId('log-test-3')[0]).toMatchObject({
      route: '/orders',
      path: '/orders',
      status: 400, // a malformed cursor; it appears nowhere in the log
    });
    expect(app.output()).not.toContain(token);
    expect(app.output()).not.toContain('secret-cursor');
    expect(app.output()).not.toContain('leave at the door'); // the body's note
  });
});

describe('the production build', () => {
  it('loads each package it bundles once, from the bundle: none a second time from node_modules', async () => {
    // Every package esbuild put in dist/main.js, from its metafile's inputs (node_modules/<package>/...).
    const { inputs } = JSON.parse(
      readFileSync(join('dist', 'main.meta.json'), 'utf8'),
    ) as { inputs: Record<string, unknown> };
    const bundled = new Set(
      Object.keys(inputs).flatMap(
        (path) => /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1] ?? [],
      ),
    );
    const app = await startAppProcess(
      {},
      {
        nodeFlags: [
          '--require',
          join(__dirname, 'support', 'report-loaded-packages.cjs'),
        ],
      },
    );
    expect(await app.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const report = /loaded from node_modules: (\[.*\])/.exec(app.output());
    const loaded = JSON.parse(report![1]) as string[];

    expect(bundled).toContain('typeorm');
    expect(bundled).toContain('pg');
    // TypeORM came a second time through @nestjs/typeorm's createRequire, and pg through TypeORM's.
    expect(loaded.filter((name) => bundled.has(name))).toEqual([]);
    // What the bundle leaves out on purpose (scripts/bundle.ts) is still found where it is.
    expect(loaded).toContain('pino');
  });
});
