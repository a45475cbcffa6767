import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { runPid } from './support/run-world';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createClient } from 'redis';
import { keyPurgeToken } from '../src/database/key-purge.module';
import { MIGRATION_LOCK_KEY } from '../src/database/run-migrations';
import type { KeyPurgeService } from '../src/database/key-purge.service';
import { startAppProcess } from './support/app-process';
import { startNatsServer } from './support/nats-server';
import { PgBouncer, pgBouncerVersion } from './support/pgbouncer';
import { until } from './support/until';
import { TcpProxy } from './support/tcp-proxy';
import { migrationLockWaiters, untilAllQueued } from './support/migration-lock';
import {
  countOrders as countOrdersOf,
  createOrder,
  createTestApp,
  expectOneOrderFrom,
  idempotencyRedisKey,
  newUser,
  send,
  TestApp,
  tokenFor,
} from './support/test-app';
import { testDatabaseUrl } from './support/test-env';
import { createOwnDatabase } from './support/own-database';
import type { ScratchDatabase } from './support/scratch-database';

/**
 * The app through a stock PgBouncer 1.18 in transaction mode (DB_POOLER=transaction): no startup
 * parameters, no named prepared statements, transaction-level advisory locks only. PgBouncer reaches
 * Postgres through a TCP proxy the test owns, so Postgres can be cut behind it.
 */
describe('Through PgBouncer in transaction mode', () => {
  const redis = createClient({ url: process.env.REDIS_URL });
  let postgres: TcpProxy;
  let bouncer: PgBouncer;
  let t: TestApp;
  let direct: Client;
  let database: string;
  // A database of its own: the app sets role defaults for it (through the pooler), which the suites
  // running beside this one must not get.
  let own: ScratchDatabase;
  let url: string;

  beforeAll(async () => {
    own = await createOwnDatabase('pgbouncer');
    url = own.url;
    expect(pgBouncerVersion()).toMatch(/PgBouncer 1\./);
    await redis.connect();
    postgres = await TcpProxy.start(url);
    bouncer = await PgBouncer.start('127.0.0.1', postgres.port);
    t = await createTestApp({
      env: {
        DATABASE_URL: bouncer.urlFor(url),
        DB_POOLER: 'transaction',
        // Enough for a connection through the pooler on a loaded machine (1 s timed out there, with
        // one core hogged and two suites beside this one), short enough for a quick 503 when cut.
        DB_CONNECT_TIMEOUT_MS: '3000',
      },
    });
    direct = new Client({ connectionString: url });
    await direct.connect();
    database = new URL(url).pathname.slice(1);
  });
  afterAll(async () => {
    postgres.restore();
    await t.close();
    // The role defaults the app set for this database: back to none for the other suites.
    await direct.query(
      `ALTER ROLE CURRENT_USER IN DATABASE ${direct.escapeIdentifier(database)} RESET ALL`,
    );
    await direct.end();
    await bouncer.stop();
    await postgres.close();
    await redis.quit();
    await own.drop();
  });

  const countOrders = (user: string) => countOrdersOf(t, user);

  it('creates, and replays from Postgres once Redis has lost the entry', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const first = await createOrder(t, token, 'pgb-1');
    expect(first.status).toBe(201);
    await redis.del(idempotencyRedisKey(user, 'pgb-1'));
    const retry = await createOrder(t, token, 'pgb-1');
    expect(retry.status).toBe(201);
    expect(retry.body.id).toBe(first.body.id);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(
      (await send(t.url, 'GET', `/orders/${first.body.id}`, { token })).status,
    ).toBe(200);
    expect(await countOrders(user)).toBe(1);
  });

  it('turns a 30-request same-key burst into one order', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => createOrder(t, token, 'pgb-burst')),
    );
    expectOneOrderFrom(answers);
    expect(await countOrders(user)).toBe(1);
  });

  it('relays order events through the pooler (a lease row, no session state): each in the stream once, the outbox emptied', async () => {
    const nats = await startNatsServer();
    const stream = `ORDERS_${randomUUID().slice(0, 8)}`;
    const relaying = await createTestApp({
      env: {
        DATABASE_URL: bouncer.urlFor(url),
        DB_POOLER: 'transaction',
        DB_CONNECT_TIMEOUT_MS: '3000',
        NATS_URL: nats.url,
        EVENTS_STREAM: stream,
        EVENTS_POLL_MS: '200',
      },
    });
    const nc = await connect({ servers: nats.url });
    try {
      const token = tokenFor(newUser());
      // One at a time, so that the relay runs a round (a read and a delete) for each of them.
      for (let i = 0; i < 12; i++)
        expect(
          (await createOrder(relaying, token, `pgb-event-${i}`)).status,
        ).toBe(201);
      const jsm = await jetstreamManager(nc);
      await until(
        async () =>
          (await jsm.streams.info(stream).catch(() => undefined))?.state
            .messages === 12,
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      await until(
        async () =>
          (await direct.query('SELECT 1 FROM order_events')).rowCount === 0,
        { timeoutMs: 10_000, intervalMs: 100 },
      );
    } finally {
      await nc.close();
      await relaying.close();
      await nats.stop();
    }
  }, 60_000);

  it('gives every pooled server session the timeouts, set as role defaults since the pooler refuses startup parameters', async () => {
    // Ten clients each inside a transaction hold all ten server sessions of the pool at once, so
    // they include the one the app's set-up used before the defaults existed.
    const clients = Array.from(
      { length: 10 },
      () =>
        new Client({
          connectionString: bouncer.urlFor(url),
        }),
    );
    await Promise.all(clients.map((client) => client.connect()));
    try {
      const seen = await Promise.all(
        clients.map(async (client) => {
          await client.query('BEGIN');
          const { rows } = await client.query<{
            statement_timeout: string;
            lock_timeout: string;
          }>(
            "SELECT current_setting('statement_timeout') AS statement_timeout, current_setting('lock_timeout') AS lock_timeout",
          );
          return rows[0];
        }),
      );
      expect(new Set(seen.map((row) => JSON.stringify(row)))).toEqual(
        new Set([
          JSON.stringify({ statement_timeout: '5s', lock_timeout: '1s' }),
        ]),
      );
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
  });

  it('purges under a transaction-level advisory lock that the pooler cannot leak', async () => {
    const purge = t.app.get<KeyPurgeService>(keyPurgeToken('orders'));
    expect(await purge.purge()).toBeGreaterThanOrEqual(0);
    expect(await advisoryLocks()).toBe(0);
  });

  it('answers 503 while Postgres is cut behind the pooler; after restore the same key makes one order', async () => {
    const user = newUser();
    const token = tokenFor(user);
    postgres.cut();
    const during = await createOrder(t, token, 'pgb-cut');
    expect(during.status).toBe(503);
    postgres.restore();
    let after = await createOrder(t, token, 'pgb-cut');
    // PgBouncer retries its servers once a second (server_login_retry): the first retry may still be early.
    for (let i = 0; i < 20 && after.status === 503; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      after = await createOrder(t, token, 'pgb-cut');
    }
    expect(after.status).toBe(201);
    expect((await createOrder(t, token, 'pgb-cut')).body.id).toBe(
      after.body.id,
    );
    expect(await countOrders(user)).toBe(1);
  });

  it('migrates a fresh database through the pooler, two instances waiting for the migration lock past their lock timeout, and leaves no advisory lock behind', async () => {
    const name = `orders_test_pgb_r${runPid()}_${Date.now()}`;
    await direct.query(`CREATE DATABASE "${name}"`);
    const apps = [];
    // Holds the migration lock, as an instance applying slow migrations would.
    const migrating = new Client({ connectionString: testDatabaseUrl(name) });
    await migrating.connect();
    try {
      await migrating.query('SELECT pg_advisory_lock($1)', [
        MIGRATION_LOCK_KEY,
      ]);
      const env = {
        DATABASE_URL: bouncer.urlFor(testDatabaseUrl(name)),
        DB_POOLER: 'transaction',
        DB_MIGRATIONS_RUN: 'true',
        // The role default every pooled session gets: the lock wait must not inherit it.
        DB_LOCK_TIMEOUT_MS: '200',
      };
      const starts = [startAppProcess(env), startAppProcess(env)];
      const starting = Promise.allSettled(starts);
      await untilAllQueued(migrating, starts);
      // Three lock timeouts later, both still wait (before the fix, each gave up after one and
      // the instance failed to start when another migrated for longer than DB_LOCK_TIMEOUT_MS).
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(await migrationLockWaiters(migrating)).toBe(2);
      await migrating.query('SELECT pg_advisory_unlock($1)', [
        MIGRATION_LOCK_KEY,
      ]);
      const started = await starting;
      for (const result of started)
        if (result.status === 'fulfilled') apps.push(result.value);
      expect(started.map((result) => result.status)).toEqual([
        'fulfilled',
        'fulfilled',
      ]);
      const check = new Client({ connectionString: testDatabaseUrl(name) });
      await check.connect();
      try {
        const { rows } = await check.query<{ name: string }>(
          'SELECT name FROM migrations',
        );
        expect(rows.length).toBeGreaterThan(0);
        expect(new Set(rows.map((row) => row.name)).size).toBe(rows.length);
        const locks = await check.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database =
             (SELECT oid FROM pg_database WHERE datname = current_database())`,
        );
        expect(locks.rows[0].n).toBe(0);
      } finally {
        await check.end();
      }
      const token = tokenFor(newUser());
      expect((await createOrder(apps[0], token, randomUUID())).status).toBe(
        201,
      );
    } finally {
      await migrating.end();
      await Promise.all(apps.map((app) => app.stop()));
      await direct.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
    // Two production boots at once; on a loaded machine each takes seconds of CPU.
  }, 120_000);

  async function advisoryLocks(): Promise<number> {
    const { rows } = await direct.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database =
         (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    return rows[0].n;
  }
});
