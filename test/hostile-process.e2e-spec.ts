import { runPid } from './support/run-world';
import { createClient } from 'redis';
import { Client } from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { MiB, readMetric } from './support/app-metrics';
import {
  AppProcess,
  productionNodeFlags,
  startAppProcess,
} from './support/app-process';
import { MIGRATION_LOCK_KEY } from '../src/database/run-migrations';
import { TcpProxy } from './support/tcp-proxy';
import { untilAllQueued } from './support/migration-lock';
import {
  idempotencyRedisKey,
  newUser,
  send,
  Sent,
  tokenFor,
  validOrder,
} from './support/test-app';
import { ADMIN_DATABASE_URL, testDatabaseUrl } from './support/test-env';

// The production build (dist/main.js) under its own V8 flags (a 160 MiB old space), as
// `npm run start:prod` runs it: what an attacker or a bad day in production would meet.

const heapUsed = (app: AppProcess) =>
  readMetric(app.adminUrl, 'nodejs_heap_size_used_bytes');

/** Polls until the heap is back under `limit` (garbage needs an allocation or two to be collected). */
async function heapSettlesUnder(
  app: AppProcess,
  limit: number,
): Promise<number> {
  let used = await heapUsed(app);
  for (let i = 0; i < 60 && used > limit; i++) {
    await sleep(250);
    used = await heapUsed(app);
  }
  return used;
}

describe('bodies built to make huge validation errors', () => {
  let app: AppProcess;
  beforeAll(async () => {
    app = await startAppProcess({}, { nodeFlags: productionNodeFlags() });
  });
  afterAll(() => app.stop());

  it('answers 3 x 32 parallel 21,000-item bodies with small 400s; the process lives and its heap returns to idle', async () => {
    const token = tokenFor(newUser());
    const rawBody = `{"currency":"USD","items":[${Array(21_000).fill('{}').join(',')}]}`;
    await send(app.url, 'GET', '/orders', { token });
    const idle = await heapUsed(app);
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(
        Array.from({ length: 32 }, (_, i) =>
          send(app.url, 'POST', '/orders', {
            token,
            key: `huge-${round}-${i}`,
            rawBody,
          }),
        ),
      );
      for (const answer of answers) {
        expect(answer.status).toBe(400);
        expect(JSON.stringify(answer.body).length).toBeLessThan(1024);
      }
    }
    expect(app.child.exitCode).toBeNull();
    const settled = await heapSettlesUnder(app, idle + 16 * MiB);
    expect(settled).toBeLessThanOrEqual(idle + 16 * MiB);
    expect((await send(app.url, 'GET', '/health/live')).status).toBe(200);
  });
});

/**
 * How long Redis stays silent: 15 s in `npm test` (fifteen background probes of the open circuit, the
 * heap sampled a dozen times), the full 60 s in `npm run test:long` (TEST_REDIS_STALL_MS=60000).
 */
const STALL_MS = Number(process.env.TEST_REDIS_STALL_MS ?? 15_000);

describe(`a Redis that stops answering but keeps its connections open, for ${STALL_MS / 1000} s under load`, () => {
  const redis = createClient({ url: process.env.REDIS_URL });
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  let proxy: TcpProxy;
  let app: AppProcess;
  beforeAll(async () => {
    await redis.connect();
    await db.connect();
    proxy = await TcpProxy.start(process.env.REDIS_URL!);
    app = await startAppProcess(
      { REDIS_URL: proxy.urlFor(process.env.REDIS_URL!), LOG_LEVEL: 'info' },
      { nodeFlags: productionNodeFlags() },
    );
  });
  afterAll(async () => {
    const exit = await app.stop();
    // A process that died on its own says why: its last output goes to the test log.
    if (exit.signal !== 'SIGTERM' && exit.code !== 0)
      console.error(
        `app exited ${JSON.stringify(exit)}:\n${app.output().slice(-5000)}`,
      );
    await proxy.close();
    await redis.quit();
    await db.end();
  });

  it(
    'creates every order through Postgres (201), keeps the heap bounded, opens and closes the circuit once, and gets the fast path back',
    async () => {
      const user = newUser();
      const token = tokenFor(user);
      const heapSamples: number[] = [];
      // A failed call says what the app was doing: its exit status, heap samples and last output.
      const create = (key: string): Promise<Sent> =>
        send(app.url, 'POST', '/orders', {
          token,
          key,
          body: validOrder(),
        }).catch((error: Error) => {
          const exit = `${app.child.exitCode} ${app.child.signalCode}`;
          throw new Error(
            `${key}: ${error.message} ${String(error.cause)}; app exit ${exit}; ` +
              `heap MiB ${heapSamples.map((b) => Math.round(b / MiB)).join(',')}\n` +
              app.output().slice(-4000),
          );
        });
      const stored = async (key: string) =>
        (await redis.exists(idempotencyRedisKey(user, key))) === 1;
      expect((await create('warm')).status).toBe(201);
      expect(await stored('warm')).toBe(true);
      const idle = await heapUsed(app);

      proxy.stall();
      const statuses = new Map<number, number>();
      const keys: string[] = [];
      const stallEnds = Date.now() + STALL_MS;
      let sampled = Date.now();
      // About 50 creates a second, 10 at a time, for the whole stall.
      while (Date.now() < stallEnds) {
        const batch = Array.from(
          { length: 10 },
          () => `stall-${keys.push(`stall-${keys.length}`) - 1}`,
        );
        const started = Date.now();
        const answers = await Promise.all(batch.map(create));
        for (const { status } of answers)
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (Date.now() - sampled > STALL_MS / 12) {
          heapSamples.push(await heapUsed(app));
          sampled = Date.now();
        }
        await sleep(Math.max(0, 200 - (Date.now() - started)));
      }
      // A retry during the stall still finds its order, from Postgres.
      const retry = await create(keys[0]);
      expect(retry.status).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      proxy.restore();

      expect(app.child.exitCode).toBeNull();
      expect(Object.fromEntries(statuses)).toEqual({ 201: keys.length });
      // At least a sixth of the nominal 50 a second, whatever the machine's load.
      expect(keys.length).toBeGreaterThan(STALL_MS / 120);
      const rows = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM orders WHERE user_id = $1',
        [user],
      );
      expect(rows.rows[0].n).toBe(keys.length + 1);
      // Nothing piles up while Redis is silent: no queue, no pending promises per request.
      expect(Math.max(...heapSamples)).toBeLessThan(idle + 32 * MiB);

      // The fast path comes back by itself: a new order is stored in Redis again.
      let back = false;
      for (let i = 0; i < 50 && !back; i++) {
        await create(`after-${i}`);
        back = await stored(`after-${i}`);
        if (!back) await sleep(200);
      }
      expect(back).toBe(true);
      // Stopped here so that its buffered log is flushed: each transition is logged exactly once.
      expect(await app.stop()).toEqual({ code: 0, signal: null });
      const output = app.output();
      expect(output.match(/"msg":"circuit open after/g)).toHaveLength(1);
      expect(output.match(/"msg":"circuit closed/g)).toHaveLength(1);
      const degradedWarnings = output.match(/idempotency storage/g) ?? [];
      expect(degradedWarnings.length).toBeLessThan(20);
    },
    STALL_MS + 45_000,
  );
});

describe('three instances started together on a fresh database', () => {
  const name = `orders_test_migrate_r${runPid()}_${Date.now()}`;
  const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  let starting: Promise<AppProcess>[] = [];
  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
  });
  afterAll(async () => {
    for (const started of await Promise.allSettled(starting))
      if (started.status === 'fulfilled') await started.value.stop();
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  });

  it('migrate one at a time (advisory lock): all wait for it, then start, each migration applied once', async () => {
    const env = {
      DATABASE_URL: testDatabaseUrl(name),
      DB_MIGRATIONS_RUN: 'true',
    };
    const db = new Client({ connectionString: testDatabaseUrl(name) });
    await db.connect();
    try {
      // Hold the migration lock: the instances must queue behind it instead of racing to create types.
      await db.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      starting = [1, 2, 3].map(() => startAppProcess(env));
      await untilAllQueued(db, starting);
      const before = await db.query<{ table: string | null }>(
        `SELECT to_regclass('orders')::text AS table`,
      );
      expect(before.rows[0].table).toBeNull();
      await db.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
      const apps = await Promise.all(starting);
      for (const app of apps) {
        expect(app.output()).not.toMatch(/duplicate key|Unable to connect/i);
        expect((await send(app.url, 'GET', '/health/ready')).status).toBe(200);
      }
      const applied = await db.query<{ name: string }>(
        'SELECT name FROM migrations',
      );
      const names = applied.rows.map((row) => row.name);
      expect(names.length).toBeGreaterThan(0);
      expect(new Set(names).size).toBe(names.length);
    } finally {
      await db.end();
    }
    // Three production boots at once; on a loaded machine each takes seconds of CPU.
  }, 120_000);
});
