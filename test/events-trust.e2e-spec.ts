import { randomUUID } from 'node:crypto';
import { DeadLetters, type OrderEvent } from '@orders/events';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { fulfil } from '../examples/fulfilment/fulfilment';
import { consumerWorld, useConsumerSuite } from './support/consumer-world';
import { orderEvent } from './support/order-event-fixtures';
import { until } from './support/until';

/**
 * @orders/events trusts nothing it cannot prove: a group that starts late or resumes after a long
 * gap loses nothing; a forged source, subject or sequence changes nothing; poison is dead-lettered
 * with its raw bytes instead of stalling the consumer; and the dead letters can be listed, requeued
 * and purged. Against a real nats-server and Postgres, each test on a stream of its own.
 */
describe('@orders/events: what the consumer refuses to believe', () => {
  const suite = useConsumerSuite('trust');

  const world = () => consumerWorld(suite, 'trust');
  const logOf = async (orderId: string) =>
    (
      await suite.pool.query<{ sequence: number }>(
        'SELECT sequence FROM fulfilment_log WHERE order_id = $1 ORDER BY position',
        [orderId],
      )
    ).rows.map((r) => r.sequence);
  const deadLetters = async (durable: string) =>
    (
      await suite.pool.query<{
        error: string;
        payload: Buffer;
        sequence: number;
      }>(
        'SELECT error, payload, sequence FROM order_events_dead_letters WHERE consumer = $1 ORDER BY stream_sequence',
        [durable],
      )
    ).rows;
  /** A handler that takes a little while, so that two consumers interleave an order's events. */
  const jittery = async (event: OrderEvent, tx: pg.PoolClient) => {
    await sleep(Math.random() * 3);
    await fulfil(event, tx);
  };
  /**
   * Publishes `sequences` of each order, an order's events one after the other on the stream (300
   * publishes in flight at a time, sent in call order), so that two consumers pulling batches often
   * hold an order's neighbouring events at once.
   */
  async function publishOrders(
    publish: (body: object) => Promise<void>,
    orders: string[],
    sequences: number[],
  ) {
    const kinds = ['created', 'updated', 'paid', 'cancelled'] as const;
    const events = orders.flatMap((orderId) =>
      sequences.map((sequence) =>
        orderEvent(orderId, sequence, kinds[sequence - 1]),
      ),
    );
    for (let i = 0; i < events.length; i += 300)
      await Promise.all(
        events.slice(i, i + 300).map((event) => publish(event)),
      );
  }

  it('a group that starts after thousands of events applies each once, in order, and dead-letters none', async () => {
    const { start, publish, durable } = await world();
    const orders = Array.from({ length: 1000 }, () => randomUUID());
    await publishOrders(publish, orders, [1, 2, 3]);
    // Published long before the group starts: under the old rule (age since publication), every
    // event that came before its predecessor was overdue at once.
    await sleep(400);
    const options = { handler: jittery, maxWaitMs: 200, concurrency: 6 };
    const [a, b] = [await start(options), await start(options)];
    await until(() => a.stats().applied + b.stats().applied === 3000, {
      timeoutMs: 90_000,
      intervalMs: 100,
    });
    expect(a.stats().deadLettered + b.stats().deadLettered).toBe(0);
    expect(a.stats().early + b.stats().early).toBeGreaterThan(0);
    expect(await deadLetters(durable)).toEqual([]);
    const { rows } = await suite.pool.query<{
      order_id: string;
      log: number[];
    }>(
      `SELECT order_id, array_agg(sequence ORDER BY position) AS log FROM fulfilment_log
       WHERE order_id = ANY($1::uuid[]) GROUP BY order_id`,
      [orders],
    );
    expect(rows).toHaveLength(1000);
    expect(rows.filter((r) => r.log.join() !== '1,2,3')).toEqual([]);
  });

  it('a group that resumes after a gap longer than maxWaitMs loses nothing', async () => {
    const { start, publish, durable } = await world();
    const orders = Array.from({ length: 300 }, () => randomUUID());
    const options = { handler: jittery, maxWaitMs: 200, concurrency: 6 };
    await publishOrders(publish, orders, [1]);
    let [a, b] = [await start(options), await start(options)];
    await until(() => a.stats().applied + b.stats().applied === 300);
    await Promise.all([a.stop(), b.stop()]);
    // The outage: events go on being published while nobody consumes, for five times maxWaitMs.
    await publishOrders(publish, orders, [2, 3, 4]);
    await sleep(1000);
    [a, b] = [await start(options), await start(options)];
    await until(() => a.stats().applied + b.stats().applied === 900, {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    expect(a.stats().deadLettered + b.stats().deadLettered).toBe(0);
    expect(await deadLetters(durable)).toEqual([]);
    for (const orderId of orders.slice(0, 50))
      expect(await logOf(orderId)).toEqual([1, 2, 3, 4]);
  });

  it('dead-letters a forged source or subject unread: no shipment, and the genuine next event applies', async () => {
    const { start, publish, durable, prefix } = await world();
    const orderId = randomUUID();
    await publish(orderEvent(orderId, 1, 'created'));
    const paid = orderEvent(orderId, 2, 'paid');
    // The attack seen: source /evil, on a subject that is not the event's type.
    await publish({ ...paid, source: '/evil', type: 'orders.whatever' });
    await publish({ ...paid, id: randomUUID(), source: '/evil' });
    await publish({ ...paid, id: randomUUID(), type: 'orders.order.created' });
    const wrongSubject = { ...paid, id: randomUUID() };
    await suite.js.publish(
      `${prefix}.orders.order.updated`,
      JSON.stringify(wrongSubject),
    );
    await publish({
      ...paid,
      id: randomUUID(),
      data: { ...paid.data, items: 'all of them' },
    });
    await publish(orderEvent(orderId, 2, 'cancelled'));
    const consumer = await start();
    await until(
      () =>
        consumer.stats().applied === 2 && consumer.stats().deadLettered === 5,
    );
    expect(await logOf(orderId)).toEqual([1, 2]);
    const shipments = await suite.pool.query(
      'SELECT 1 FROM shipments WHERE order_id = $1',
      [orderId],
    );
    expect(shipments.rowCount).toBe(0);
    expect((await deadLetters(durable)).map((row) => row.error)).toEqual([
      'source "/evil" is not "/orders"',
      'source "/evil" is not "/orders"',
      'data.status paid does not follow orders.order.created',
      expect.stringMatching(
        /^arrived on subject ".*orders\.order\.updated", not on its type/,
      ),
      'data.items is not a list of items',
    ]);
    // None of them took the genuine event's place: no inbox row, no position.
    expect(
      (await deadLetters(durable)).every((row) => row.sequence === null),
    ).toBe(true);
  });

  it('a forged sequence cannot move an order past its genuine events', async () => {
    const { start, publish, durable } = await world();
    const orderId = randomUUID();
    await publish(orderEvent(orderId, 1, 'created'));
    await publish(orderEvent(orderId, 2_147_483_647, 'paid'));
    await publish(orderEvent(orderId, 2_147_483_648, 'paid'));
    const consumer = await start({ maxWaitMs: 200 });
    await until(() => consumer.stats().deadLettered === 2, {
      timeoutMs: 15_000,
    });
    await publish(orderEvent(orderId, 2, 'paid'));
    await publish(orderEvent(orderId, 3, 'cancelled'));
    await until(() => consumer.stats().applied === 3);
    expect(await logOf(orderId)).toEqual([1, 2, 3]);
    const { rows } = await suite.pool.query(
      'SELECT status FROM shipments WHERE order_id = $1',
      [orderId],
    );
    expect(rows).toEqual([{ status: 'voided' }]);
    expect((await deadLetters(durable)).map((row) => row.error)).toEqual([
      `sequence 2 of order ${orderId} is not on the stream before this event (waited for it)`,
      'sequence is not an integer in 1..2147483647',
    ]);
  });

  it('dead-letters poison with its raw bytes and keeps going: NUL bytes, a data error in the handler', async () => {
    const { start, publish, durable, prefix } = await world();
    // 300 messages of one 0x00 byte: not JSON, and not storable as Postgres text.
    for (let i = 0; i < 300; i += 50)
      await Promise.all(
        Array.from({ length: 50 }, () =>
          suite.js.publish(
            `${prefix}.orders.order.created`,
            new Uint8Array([0]),
          ),
        ),
      );
    const nulNote = randomUUID();
    const withNul = orderEvent(nulNote, 1, 'created');
    withNul.data.note = 'gift\u0000wrap' as never;
    await publish(withNul);
    const healthy = randomUUID();
    await publish(orderEvent(healthy, 1, 'created'));
    // The handler stores the note: Postgres refuses a NUL in text (SQLSTATE 22021), the event's fault.
    const storesNote = async (event: OrderEvent, tx: pg.PoolClient) => {
      await tx.query('SELECT $1::text', [event.data.note]);
      await fulfil(event, tx);
    };
    const consumer = await start({
      handler: storesNote,
      maxDeliveries: 3,
      retryDelayMs: 20,
    });
    await until(
      () =>
        consumer.stats().deadLettered === 301 && consumer.stats().applied === 1,
      { timeoutMs: 30_000 },
    );
    expect(consumer.stats().unavailable).toBe(0);
    expect(consumer.stats().failed).toBe(2);
    expect(await logOf(healthy)).toEqual([1]);
    const letters = await deadLetters(durable);
    expect(
      letters.filter((row) => row.payload.equals(Buffer.from([0]))),
    ).toHaveLength(300);
    const nul = letters.find((row) => row.sequence === 1)!;
    expect(nul.error).toMatch(/0x00/);
    expect(JSON.parse(nul.payload.toString('utf8')).data.note).toBe(
      'gift\u0000wrap',
    );
  });

  it("dead-letters what JetStream stops delivering (max_deliver), from the server's advisory", async () => {
    const { start, publish, durable } = await world();
    const orderId = randomUUID();
    await publish(orderEvent(orderId, 2, 'paid'));
    const consumer = await start({ maxDeliver: 3, maxWaitMs: 3_600_000 });
    await until(() => consumer.stats().deadLettered === 1, {
      timeoutMs: 20_000,
    });
    expect((await deadLetters(durable)).map((row) => row.error)).toEqual([
      'JetStream stopped delivering it after 3 deliveries (max_deliver)',
    ]);
  });

  it('lists, requeues (in order, late, or past an accepted gap) and purges dead letters', async () => {
    const { start, publish, durable, prefix } = await world();
    const late = randomUUID();
    const gap = randomUUID();
    let broken = true;
    const handler = async (event: OrderEvent, tx: pg.PoolClient) => {
      if (broken && event.subject === late && event.sequence === 1)
        throw new Error('warehouse offline');
      await fulfil(event, tx);
    };
    await publish(orderEvent(late, 1, 'created'));
    await publish(orderEvent(late, 2, 'paid'));
    await publish(orderEvent(gap, 2, 'paid'));
    const consumer = await start({
      handler,
      maxDeliveries: 2,
      retryDelayMs: 20,
      maxWaitMs: 200,
    });
    await until(() => consumer.stats().deadLettered === 2, {
      timeoutMs: 15_000,
    });
    expect(await logOf(late)).toEqual([2]);
    const letters = new DeadLetters({
      pool: suite.pool,
      consumer: durable,
      handler,
      subjectPrefix: `${prefix}.`,
    });
    const listed = await letters.list();
    expect(listed.map((row) => [row.orderId, row.sequence])).toEqual([
      [late, 1],
      [gap, 2],
    ]);
    broken = false;
    const [first, second] = listed.map((row) => row.streamSequence);
    expect(await letters.requeue(first)).toEqual({ kind: 'applied-late' });
    expect(await logOf(late)).toEqual([2, 1]);
    expect(await letters.requeue(second)).toEqual({
      kind: 'early',
      applied: 0,
    });
    expect(await letters.requeue(second, { acceptGap: true })).toEqual({
      kind: 'applied',
    });
    expect(await logOf(gap)).toEqual([2]);
    await publish(orderEvent(gap, 3, 'cancelled'));
    await until(async () => (await logOf(gap)).length === 2);
    expect(await letters.list()).toEqual([]);
    // A redelivery of a requeued event is a duplicate: its id is in the inbox again.
    await publish(orderEvent(randomUUID(), 5, 'paid'));
    await until(() => consumer.stats().deadLettered === 3, {
      timeoutMs: 15_000,
    });
    expect(await letters.purge()).toBe(1);
    expect(await letters.list()).toEqual([]);
  });
});
