import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { DataSource } from 'typeorm';
import { purgeBatchSql } from '../src/database/key-purge';
import { keyPurgeToken } from '../src/database/key-purge.module';
import type { KeyPurgeService } from '../src/database/key-purge.service';
import { ORDERS_KEYED_TABLE } from '../src/orders/orders.sql';
import { PAYMENT_EVENTS_TABLE } from '../src/payments/payments.sql';
import {
  createOrder,
  createTestApp,
  idempotencyRedisKey,
  newUser,
  TestApp,
  tokenFor,
} from './support/test-app';

describe('Idempotency key retention in Postgres', () => {
  const redis = createClient({ url: process.env.REDIS_URL });
  let t: TestApp;
  let db: DataSource;
  let retention: KeyPurgeService;

  beforeAll(async () => {
    await redis.connect();
    t = await createTestApp({
      env: {
        IDEMPOTENCY_PURGE_BATCH_SIZE: '2',
        IDEMPOTENCY_KEY_RETENTION_SECONDS: '172800',
        // Acknowledged events kept a day (the default, 0, deletes them at once).
        EVENTS_OUTBOX_RETENTION_SECONDS: '86400',
      },
    });
    db = t.app.get(DataSource);
    retention = t.app.get(keyPurgeToken(ORDERS_KEYED_TABLE.table));
  });
  afterAll(async () => {
    await t.close();
    await redis.quit();
  });

  /** Orders of `user` with keys k-0..k-(n-1); the first `aged` are made 3 days old, past Redis and Postgres windows. */
  async function ordersWithAgedKeys(user: string, n: number, aged: number) {
    const token = tokenFor(user);
    const created = [];
    for (let i = 0; i < n; i++)
      created.push((await createOrder(t, token, `k-${i}`)).body.id as string);
    for (let i = 0; i < aged; i++) {
      await db.query(
        `UPDATE orders SET created_at = now() - interval '3 days' WHERE id = $1`,
        [created[i]],
      );
      // Redis forgot it long ago (IDEMPOTENCY_TTL_SECONDS < retention).
      await redis.del(idempotencyRedisKey(user, `k-${i}`));
    }
    return { token, created };
  }

  async function keysOf(user: string): Promise<(string | null)[]> {
    const rows: { idempotency_key: string | null }[] = await db.query(
      'SELECT idempotency_key FROM orders WHERE user_id = $1 ORDER BY created_at, idempotency_key',
      [user],
    );
    return rows.map((row) => row.idempotency_key);
  }

  it('clears keys past IDEMPOTENCY_KEY_RETENTION_SECONDS in batches; such a key then makes a new order', async () => {
    const user = newUser();
    const { token, created } = await ordersWithAgedKeys(user, 5, 3);
    expect(await retention.purge()).toBeGreaterThanOrEqual(3); // two batches of 2
    expect(await keysOf(user)).toEqual([null, null, null, 'k-3', 'k-4']);

    const reused = await createOrder(t, token, 'k-0');
    expect(reused.status).toBe(201);
    expect(reused.headers.get('idempotent-replayed')).toBeNull();
    expect(reused.body.id).not.toBe(created[0]);
    // A key inside the window still deduplicates.
    const recent = await createOrder(t, token, 'k-3');
    expect(recent.body.id).toBe(created[3]);
    expect(recent.headers.get('idempotent-replayed')).toBe('true');
  });

  it('purges on one instance at a time (advisory lock): a second one skips', async () => {
    const user = newUser();
    await ordersWithAgedKeys(user, 1, 1);
    const other = db.createQueryRunner();
    await other.connect();
    try {
      await other.startTransaction();
      await other.query('SELECT pg_advisory_xact_lock($1)', [
        ORDERS_KEYED_TABLE.lockId,
      ]);
      expect(await retention.purge()).toBe(0);
      expect(await keysOf(user)).toEqual(['k-0']);
      await other.commitTransaction();
    } finally {
      await other.release();
    }
    expect(await retention.purge()).toBeGreaterThanOrEqual(1);
    expect(await keysOf(user)).toEqual([null]);
  });

  it('finds the purge batch through the small partial index, not by scanning orders', async () => {
    const runner = db.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      // The test table is tiny, where a scan is cheapest; forbid it to see which index can serve the query.
      await runner.query('SET LOCAL enable_seqscan = off');
      const rows: { 'QUERY PLAN': unknown }[] = await runner.query(
        `EXPLAIN (FORMAT JSON) ${purgeBatchSql(ORDERS_KEYED_TABLE)}`,
        [172800, 1000],
      );
      const plan = rows[0]['QUERY PLAN'];
      const text = JSON.stringify(plan);
      expect(text).toContain('orders_unpurged_key_created_at_idx');
      expect(text).not.toContain('Seq Scan');
      await runner.rollbackTransaction();
    } finally {
      await runner.release();
    }
  });

  it('deletes published order events past EVENTS_OUTBOX_RETENTION_SECONDS, never a pending one however old', async () => {
    const purge = t.app.get<KeyPurgeService>(keyPurgeToken('order_events'));
    const order = randomUUID();
    // Published 8 days ago, pending since 8 days ago, published now.
    await db.query(
      `INSERT INTO order_events (order_id, user_id, type, sequence, data, created_at, published_at)
       VALUES ($1, 'u', 'orders.order.created', 1, '{}', now() - interval '8 days', now() - interval '8 days'),
              ($1, 'u', 'orders.order.paid', 2, '{}', now() - interval '8 days', NULL),
              ($1, 'u', 'orders.order.cancelled', 3, '{}', now(), now())`,
      [order],
    );
    while ((await purge.purge()) > 0);
    const left: { sequence: number }[] = await db.query(
      'SELECT sequence FROM order_events WHERE order_id = $1 ORDER BY sequence',
      [order],
    );
    expect(left.map((row) => row.sequence)).toEqual([2, 3]);
    await db.query('DELETE FROM order_events WHERE order_id = $1', [order]);
  });

  it('deletes processed payment events past PAYMENT_EVENT_RETENTION_SECONDS and keeps newer ones', async () => {
    const events = t.app.get<KeyPurgeService>(
      keyPurgeToken(PAYMENT_EVENTS_TABLE.table),
    );
    const [old, recent] = [`msg_old_${Date.now()}`, `msg_new_${Date.now()}`];
    await db.query(
      `INSERT INTO payment_events (webhook_id, type, outcome, received_at)
       VALUES ($1, 'payment.succeeded', 'paid', now() - interval '8 days'),
              ($2, 'payment.succeeded', 'paid', now())`,
      [old, recent],
    );
    expect(await events.purge()).toBeGreaterThanOrEqual(1);
    const left: { webhook_id: string }[] = await db.query(
      'SELECT webhook_id FROM payment_events WHERE webhook_id = ANY($1)',
      [[old, recent]],
    );
    expect(left.map((row) => row.webhook_id)).toEqual([recent]);
  });
});
