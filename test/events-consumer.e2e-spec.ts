import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OrderEvent } from '@orders/events';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { fulfil } from '../examples/fulfilment/fulfilment';
import { freePort } from './support/app-process';
import { consumerWorld, useConsumerSuite } from './support/consumer-world';
import { startConsumerProcess } from './support/consumer-process';
import { orderEvent } from './support/order-event-fixtures';
import { TcpProxy } from './support/tcp-proxy';
import { ADMIN_DATABASE_URL } from './support/test-env';
import { until } from './support/until';

/**
 * @orders/events against a real nats-server and a real Postgres: exactly once per event id, each
 * order's events in sequence, failures retried then dead-lettered, bad messages dead-lettered at
 * once, a clean stop. Events are published straight to the stream here (the pipeline chaos run
 * drives the real service); each test has a stream, subjects and a durable name of its own.
 */
describe('@orders/events: consuming order events exactly once', () => {
  const suite = useConsumerSuite('consumer');
  const { consumers } = suite;

  const world = () => consumerWorld(suite, 'consumer');

  const count = async (sql: string, params: unknown[]): Promise<number> =>
    Number((await suite.pool.query<{ n: string }>(sql, params)).rows[0].n);
  const logOf = async (orderId: string) =>
    (
      await suite.pool.query<{ sequence: number }>(
        'SELECT sequence FROM fulfilment_log WHERE order_id = $1 ORDER BY position',
        [orderId],
      )
    ).rows.map((r) => r.sequence);

  it('applies a redelivered or duplicated event once: one shipment per paid order', async () => {
    const { start, publish, durable } = await world();
    const orderId = randomUUID();
    const created = orderEvent(orderId, 1, 'created');
    const paid = orderEvent(orderId, 2, 'paid');
    await publish(created);
    await publish(paid);
    // The same event id twice more, past the stream's deduplication (a redelivery looks the same).
    await publish(paid, randomUUID());
    await publish(created, randomUUID());
    const consumer = await start();
    await until(
      () => consumer.stats().applied + consumer.stats().duplicates === 4,
    );
    expect(consumer.stats()).toMatchObject({
      applied: 2,
      duplicates: 2,
      deadLettered: 0,
    });
    expect(
      await count('SELECT count(*) AS n FROM shipments WHERE order_id = $1', [
        orderId,
      ]),
    ).toBe(1);
    expect(await logOf(orderId)).toEqual([1, 2]);
    expect(
      await count(
        'SELECT count(*) AS n FROM order_events_inbox WHERE consumer = $1',
        [durable],
      ),
    ).toBe(2);
  });

  it("keeps each order's events in sequence, with two consumers, whatever order they arrive in", async () => {
    const { start, publish } = await world();
    const orders = Array.from({ length: 60 }, () => randomUUID());
    // Published backwards for each order: paid (3), updated (2), then created (1).
    for (const orderId of orders) {
      await publish(orderEvent(orderId, 3, 'paid'));
      await publish(orderEvent(orderId, 2, 'updated'));
      await publish(orderEvent(orderId, 1, 'created'));
    }
    const [a, b] = [
      await start({ concurrency: 4 }),
      await start({ concurrency: 4 }),
    ];
    await until(() => a.stats().applied + b.stats().applied === 180, {
      timeoutMs: 30_000,
    });
    for (const orderId of orders)
      expect(await logOf(orderId)).toEqual([1, 2, 3]);
    expect(a.stats().early + b.stats().early).toBeGreaterThan(0);
    expect(a.stats().applied).toBeGreaterThan(0);
    expect(b.stats().applied).toBeGreaterThan(0);
  });

  it('retries a failing handler with backoff, then dead-letters the event and moves on', async () => {
    const { start, publish, durable, logged } = await world();
    const flaky = randomUUID();
    const poison = randomUUID();
    const calls = new Map<string, number>();
    const handler = async (event: OrderEvent, tx: pg.PoolClient) => {
      const n = (calls.get(event.id) ?? 0) + 1;
      calls.set(event.id, n);
      if (event.subject === flaky && event.sequence === 1 && n <= 2)
        throw new Error('carrier API timed out');
      if (event.subject === poison && event.sequence === 1)
        throw new Error('no warehouse for this SKU');
      await fulfil(event, tx);
    };
    for (const orderId of [flaky, poison]) {
      await publish(orderEvent(orderId, 1, 'created'));
      await publish(orderEvent(orderId, 2, 'paid'));
    }
    const consumer = await start({
      handler,
      maxDeliveries: 3,
      retryDelayMs: 20,
    });
    await until(
      () =>
        consumer.stats().applied === 3 && consumer.stats().deadLettered === 1,
      {
        timeoutMs: 15_000,
      },
    );
    expect(consumer.stats().failed).toBe(2 + 2);
    expect(await logOf(flaky)).toEqual([1, 2]);
    // The dead-lettered event is passed over: the order's next event is applied after it.
    expect(await logOf(poison)).toEqual([2]);
    const { rows } = await suite.pool.query(
      'SELECT order_id, sequence, deliveries, error FROM order_events_dead_letters WHERE consumer = $1',
      [durable],
    );
    expect(rows).toEqual([
      {
        order_id: poison,
        sequence: 1,
        deliveries: 3,
        error: 'no warehouse for this SKU',
      },
    ]);
    expect(
      logged.some((line) =>
        /dead-lettered .*no warehouse for this SKU/.test(line),
      ),
    ).toBe(true);
    expect(
      await count(
        'SELECT count(*) AS n FROM order_events_failures WHERE consumer = $1',
        [durable],
      ),
    ).toBe(0);
  });

  it('dead-letters what is not an order event at once, and keeps consuming', async () => {
    const { start, publish, durable } = await world();
    const orderId = randomUUID();
    await publish('{"not json');
    await publish(JSON.stringify({ hello: 'world' }));
    await publish({
      ...orderEvent(orderId, 1, 'created'),
      type: 'orders.order.teleported',
    });
    await publish(orderEvent(orderId, 2, 'paid'));
    const consumer = await start({ maxDeliveries: 5 });
    await until(
      () =>
        consumer.stats().applied === 1 && consumer.stats().deadLettered === 3,
    );
    const { rows } = await suite.pool.query<{
      error: string;
      deliveries: number;
    }>(
      'SELECT error, deliveries FROM order_events_dead_letters WHERE consumer = $1 ORDER BY stream_sequence',
      [durable],
    );
    expect(rows.map((r) => r.error)).toEqual([
      expect.stringMatching(/^not JSON/),
      'not a CloudEvent 1.0 (specversion)',
      'unknown type orders.order.teleported',
    ]);
    expect(rows.every((r) => r.deliveries === 1)).toBe(true);
    expect(consumer.stats().failed).toBe(0);
    expect(await logOf(orderId)).toEqual([2]);
  });

  it('dead-letters an event whose predecessor never arrives, once it has waited maxWaitMs', async () => {
    const { start, publish, durable } = await world();
    const orderId = randomUUID();
    await publish(orderEvent(orderId, 2, 'paid'));
    const consumer = await start({ maxWaitMs: 500 });
    await until(() => consumer.stats().deadLettered === 1, {
      timeoutMs: 10_000,
    });
    expect(consumer.stats().early).toBeGreaterThan(0);
    const { rows } = await suite.pool.query(
      'SELECT error FROM order_events_dead_letters WHERE consumer = $1',
      [durable],
    );
    expect(rows).toEqual([
      {
        error: `sequence 1 of order ${orderId} is not on the stream before this event (waited for it)`,
      },
    ]);
  });

  it('stops cleanly: the events in hand are applied and acknowledged, none is applied twice after', async () => {
    const { start, publish, durable } = await world();
    const orders = Array.from({ length: 20 }, () => randomUUID());
    for (const orderId of orders)
      await publish(orderEvent(orderId, 1, 'created'));
    let begun = 0;
    const slow = async (event: OrderEvent, tx: pg.PoolClient) => {
      begun++;
      await sleep(300);
      await fulfil(event, tx);
    };
    // Messages the server had already sent towards the stopping consumer (an open pull) reach no
    // one: JetStream delivers them again after the ack wait, 2 s here.
    const first = await start({
      handler: slow,
      concurrency: 4,
      ackWaitMs: 2000,
    });
    await until(() => begun >= 4);
    await first.stop();
    // Everything begun was finished: nothing is left half-done for a redelivery.
    expect(first.stats().applied).toBe(begun);
    const second = await start({ concurrency: 8, ackWaitMs: 2000 });
    await until(() => first.stats().applied + second.stats().applied === 20, {
      timeoutMs: 15_000,
    });
    // Each applied once. (A message put back at the stop may still reach the second consumer twice,
    // its first delivery late: the inbox turns that into a duplicate, which is what it is for.)
    for (const orderId of orders) expect(await logOf(orderId)).toEqual([1]);
    expect(
      await count(
        'SELECT count(*) AS n FROM order_events_inbox WHERE consumer = $1',
        [durable],
      ),
    ).toBe(20);
  });

  it('waits out its database: nothing is lost, counted as a failure or dead-lettered', async () => {
    const { start, publish } = await world();
    const proxy = await TcpProxy.start(suite.database.url);
    const cutPool = new pg.Pool({
      connectionString: proxy.urlFor(suite.database.url),
      max: 4,
      connectionTimeoutMillis: 500,
    });
    cutPool.on('error', () => undefined);
    try {
      const consumer = await start({ pool: cutPool, retryDelayMs: 50 });
      const orders = Array.from({ length: 30 }, () => randomUUID());
      proxy.cut();
      for (const orderId of orders) {
        await publish(orderEvent(orderId, 1, 'created'));
        await publish(orderEvent(orderId, 2, 'paid'));
      }
      await until(() => consumer.stats().unavailable > 0);
      await sleep(1000);
      proxy.restore();
      await until(() => consumer.stats().applied === 60, {
        timeoutMs: 20_000,
      });
      expect(consumer.stats()).toMatchObject({ failed: 0, deadLettered: 0 });
      for (const orderId of orders)
        expect(await logOf(orderId)).toEqual([1, 2]);
    } finally {
      await Promise.all(consumers.splice(0).map((c) => c.stop()));
      await cutPool.end();
      await proxy.close();
    }
  });

  it('carries on when the server ends its connections, idle or in a transaction (pg_terminate_backend)', async () => {
    const { start, publish } = await world();
    const held = randomUUID();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let holding = false;
    const handler = async (event: OrderEvent, tx: pg.PoolClient) => {
      if (event.subject === held && !holding) {
        holding = true;
        await gate;
      }
      await fulfil(event, tx);
    };
    const consumer = await start({ handler, retryDelayMs: 20 });
    const before = Array.from({ length: 10 }, () => randomUUID());
    for (const orderId of before)
      await publish(orderEvent(orderId, 1, 'created'));
    await until(() => consumer.stats().applied === 10);
    // The pool now holds idle connections; one more is in a transaction, its handler held.
    await publish(orderEvent(held, 1, 'created'));
    await until(() => holding);
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ ended: boolean }>(
        'SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE datname = $1',
        [new URL(suite.database.url).pathname.slice(1)],
      );
      expect(rows.length).toBeGreaterThan(1);
    } finally {
      await admin.end();
    }
    release();
    const after = Array.from({ length: 10 }, () => randomUUID());
    for (const orderId of after) {
      await publish(orderEvent(orderId, 1, 'created'));
      await publish(orderEvent(orderId, 2, 'paid'));
    }
    await until(() => consumer.stats().applied === 10 + 1 + 20);
    expect(consumer.stats()).toMatchObject({ failed: 0, deadLettered: 0 });
    expect(consumer.stats().unavailable).toBeGreaterThan(0);
    expect(await logOf(held)).toEqual([1]);
    for (const orderId of after) expect(await logOf(orderId)).toEqual([1, 2]);
  });

  it('runs as a service: examples/fulfilment ships, counts a dead letter in its metrics and log, stops on SIGTERM', async () => {
    const { prefix, stream, publish } = await world();
    const metricsPort = await freePort();
    const orderId = randomUUID();
    await publish(orderEvent(orderId, 1, 'created'));
    await publish(orderEvent(orderId, 2, 'paid'));
    await publish('{"not json');
    const service = await startConsumerProcess({
      NATS_URL: suite.nats.url,
      EVENTS_STREAM: stream,
      FULFILMENT_FILTER_SUBJECT: `${prefix}.>`,
      FULFILMENT_SUBJECT_PREFIX: `${prefix}.`,
      FULFILMENT_DATABASE_URL: suite.database.url,
      FULFILMENT_CONSUMER: `service-${prefix}`,
      FULFILMENT_METRICS_PORT: String(metricsPort),
    });
    try {
      const metrics = async () =>
        (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      // The three messages are in hand together: each counter is waited for, not read once.
      await until(async () => {
        const text = await metrics();
        return (
          text.includes('fulfilment_events_total{outcome="dead_lettered"} 1') &&
          text.includes('fulfilment_events_total{outcome="applied"} 2')
        );
      });
      expect(service.output()).toMatch(/dead-lettered .* not JSON/);
      expect(
        await count('SELECT count(*) AS n FROM shipments WHERE order_id = $1', [
          orderId,
        ]),
      ).toBe(1);
    } finally {
      const exit = await service.stop('SIGTERM');
      expect(exit).toMatchObject({
        code: 0,
        stats: { applied: 2, deadLettered: 1 },
      });
    }
  });

  it('examples/fulfilment stops with one line naming NATS_URL when it is empty (events off) or not a URL', async () => {
    for (const [value, expected] of [
      ['', /^fulfilment: NATS_URL is empty \(events off\): set it to/],
      [
        'localhost:4222',
        /^fulfilment: NATS_URL: "localhost:4222" is not a nats:\/\/ URL$/,
      ],
      [
        'nats://u:secret@[bad',
        /^fulfilment: NATS_URL: "nats:\/\/\*\*\*@\[bad" is not a nats:\/\/ URL$/,
      ],
    ] as const) {
      const { code, output } = await runExample({ NATS_URL: value });
      expect(code).toBe(1);
      expect(output.trim().split('\n')).toHaveLength(1);
      expect(output.trim()).toMatch(expected);
    }
  });
});

/** The example run to its end with `env` (no .env: a directory without one). */
function runExample(
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--disable-warning=MODULE_TYPELESS_PACKAGE_JSON',
        join(process.cwd(), 'examples', 'fulfilment', 'main.ts'),
      ],
      {
        env: { PATH: process.env.PATH, ...env },
        cwd: tmpdir(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => resolve({ code, output }));
  });
}
