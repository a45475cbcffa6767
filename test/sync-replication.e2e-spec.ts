import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import {
  ReplicationGuardedClient,
  TRANSACTION_RESOLUTION_UNKNOWN,
} from '../src/database/replication-guarded-client';
import { SELECT_DUE_EVENTS } from '../src/events/order-events.sql';
import { until } from './support/until';
import {
  migratedDatabase,
  type PostgresCluster,
  startPostgresCluster,
} from './support/postgres-cluster';
import {
  createOrder,
  createTestAppOn,
  newUser,
  send,
  type TestApp,
  tokenFor,
} from './support/test-app';

/**
 * What a failover does to a commit, on a Postgres of the suite's own (the settings below are
 * server-wide): a commit whose wait for the synchronous standby is cancelled, and a node that has
 * turned read-only. test:ha (scripts/ha.ts) runs the same through a real Patroni failover.
 */
describe('Commits a failover could take back', () => {
  let cluster: PostgresCluster;
  let admin: Client;
  /** The app's database, read directly: what is committed there. */
  let orders: Client;
  let t: TestApp;
  let url: string;

  const setting = async (name: string, value: string | undefined) => {
    await admin.query(
      value === undefined
        ? `ALTER SYSTEM RESET ${name}`
        : `ALTER SYSTEM SET ${name} = '${value}'`,
    );
    await admin.query('SELECT pg_reload_conf()');
    // pg_reload_conf signals the postmaster; sessions read the file at their next command.
    await until(
      async () => {
        const probe = new Client({ connectionString: url });
        await probe.connect();
        try {
          const { rows } = await probe.query<{ v: string }>(
            `SELECT current_setting('${name}') AS v`,
          );
          return (
            rows[0].v === (value ?? (name.includes('read_only') ? 'off' : ''))
          );
        } finally {
          await probe.end();
        }
      },
      { timeoutMs: 10_000 },
    );
  };

  beforeAll(async () => {
    cluster = await startPostgresCluster();
    admin = new Client({ connectionString: cluster.url });
    await admin.connect();
    url = await migratedDatabase(cluster);
    orders = new Client({ connectionString: url });
    await orders.connect();
    t = await createTestAppOn(url, { DB_STATEMENT_TIMEOUT_MS: '1000' });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await orders?.end();
    await admin?.end();
    await cluster?.stop();
  });

  it('a commit whose synchronous wait was cancelled is a 503 with Retry-After, never a 201; the retry with the same key returns the order it made, once', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const key = randomUUID();
    // A standby that never comes: every commit waits until statement_timeout cancels the wait, and
    // Postgres then reports the commit as done, with a WARNING.
    await setting('synchronous_standby_names', 'ghost');
    const answer = createOrder(t, token, key);
    // Statement timeouts never end that wait (Postgres stops the timer before it commits), so a
    // cancel request does, as a client library's or an operator's pg_cancel_backend would.
    let waiting: number | undefined;
    await until(async () => {
      const { rows } = await admin.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND query LIKE '%INSERT INTO orders%'",
      );
      waiting = rows[0]?.pid;
      return waiting !== undefined;
    });
    await admin.query('SELECT pg_cancel_backend($1)', [waiting]);
    const during = await answer;
    expect(during.status).toBe(503);
    expect(during.body).toMatchObject({
      error: { code: 'SERVICE_UNAVAILABLE' },
    });
    expect(during.headers.get('retry-after')).toBe('1');
    // It is committed here, on this node; a failover to a standby could lose it. Only the retry knows.
    const ids = () =>
      orders.query<{ id: string }>('SELECT id FROM orders WHERE user_id = $1', [
        user,
      ]);
    expect((await ids()).rows).toHaveLength(1);
    await setting('synchronous_standby_names', undefined);
    const retry = await createOrder(t, token, key);
    expect([200, 201]).toContain(retry.status);
    expect((await ids()).rows.map((r) => r.id)).toEqual([
      (retry.body as { id: string }).id,
    ]);
  }, 60_000);

  it("the relay's read of due events waits for the synchronous standby, and a cancelled wait is a failure, never events to publish", async () => {
    // An event written while no standby is required: committed, pending.
    const orderId = randomUUID();
    await orders.query(
      `INSERT INTO order_events (order_id, user_id, type, sequence, data)
       VALUES ($1, 'barrier', 'orders.order.created', 1, '{}')`,
      [orderId],
    );
    await setting('synchronous_standby_names', 'ghost');
    const relay: Client = new ReplicationGuardedClient({
      connectionString: url,
    });
    await relay.connect();
    try {
      const read = relay.query(SELECT_DUE_EVENTS, [100]).then(
        () => 'answered',
        (error: { code?: string }) => error.code,
      );
      // The barrier: the statement took a transaction id, so its commit waits for the standby, and
      // the rows are not handed over before it.
      let waiting: number | undefined;
      await until(
        async () => {
          const { rows } = await admin.query<{ pid: number }>(
            "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND query LIKE '%order_events_due%'",
          );
          waiting = rows[0]?.pid;
          return waiting !== undefined;
        },
        { timeoutMs: 20_000 },
      );
      await admin.query('SELECT pg_cancel_backend($1)', [waiting]);
      expect(await read).toBe(TRANSACTION_RESOLUTION_UNKNOWN);
      // Without a synchronous standby there is nothing to wait for: the event is read at once.
      await setting('synchronous_standby_names', undefined);
      const { rows } = await relay.query<{ order_id: string }>(
        SELECT_DUE_EVENTS,
        [100],
      );
      expect(rows.map((r) => r.order_id)).toContain(orderId);
    } finally {
      await relay.end();
      await orders.query('DELETE FROM order_events WHERE order_id = $1', [
        orderId,
      ]);
    }
  }, 60_000);

  it('a node that turned read-only: writes get 503 with Retry-After and readiness is down, until a primary answers again, with no restart', async () => {
    const token = tokenFor(newUser());
    await setting('default_transaction_read_only', 'on');
    const refused = await createOrder(t, token, randomUUID());
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({
      error: { code: 'SERVICE_UNAVAILABLE' },
    });
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await send(t.url, 'GET', '/health/ready')).status).toBe(503);
    await setting('default_transaction_read_only', undefined);
    await until(
      async () => (await send(t.url, 'GET', '/health/ready')).status === 200,
      { timeoutMs: 10_000 },
    );
    const after = await createOrder(t, token, randomUUID());
    expect([after.status, after.body]).toEqual([201, expect.anything()]);
  }, 60_000);
});
