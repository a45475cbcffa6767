/**
 * npm run bench:consumer [-- --orders 5000 --rounds 2 --concurrency 8]
 *
 * How fast @orders/events applies order events, with one consumer process and with two: a
 * nats-server with JetStream and a database of the run's own, `--orders` orders' events (created,
 * then paid: two events each, a shipment per order) published to the stream up front, then
 * examples/fulfilment processes applying them, alternating one and two processes `--rounds` times,
 * each round on a durable consumer (and so an inbox) of its own. The rate is events applied per
 * second, from the first event applied to the last (the inbox's `applied_at`). A benchmark, not a
 * test: it reports and never fails on timing.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  type ConsumerProcess,
  startConsumerProcess,
} from '../test/support/consumer-process.ts';
import { startNatsServer } from '../test/support/nats-server.ts';
import { orderEvent } from '../test/support/order-event-fixtures.ts';
import { createScratchDatabase } from '../test/support/scratch-database.ts';

const { values: flags } = parseArgs({
  options: {
    orders: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '8' },
  },
});
const orders = Number(flags.orders);
const events = 2 * orders;
const adminUrl =
  process.env.BENCH_ADMIN_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
const STREAM = 'ORDERS_BENCH';

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const database = await createScratchDatabase(adminUrl, 'fulfilment_bench');
  const db = new pg.Client({ connectionString: database.url });
  try {
    await publishAll(nats.url);
    await db.connect();
    const rates: Record<1 | 2, number[]> = { 1: [], 2: [] };
    const early: Record<1 | 2, number[]> = { 1: [], 2: [] };
    for (let round = 1; round <= Number(flags.rounds); round++)
      for (const processes of [1, 2] as const) {
        const result = await applyAll(
          nats.url,
          database.url,
          db,
          processes,
          round,
        );
        rates[processes].push(result.rate);
        early[processes].push(result.early);
        console.error(
          `round ${round}, ${processes} process(es): ${result.rate.toFixed(0)} events/s, ${result.early} put back early`,
        );
      }
    const mean = (values: number[]) =>
      values.reduce((a, b) => a + b, 0) / values.length;
    const each = (values: number[]) =>
      values.map((v) => v.toFixed(0)).join(', ');
    console.log(
      [
        '| | |',
        '|---|---|',
        `| events per round | ${events} (${orders} orders: created, paid) |`,
        `| events applied/s, 1 process (each round) | ${each(rates[1])} |`,
        `| events applied/s, 2 processes (each round) | ${each(rates[2])} |`,
        `| 2 processes / 1 (means) | ${(mean(rates[2]) / mean(rates[1])).toFixed(2)} |`,
        `| deliveries put back early (predecessor not applied), 1 / 2 processes | ${each(early[1])} / ${each(early[2])} |`,
        `| concurrency per process | ${flags.concurrency} |`,
      ].join('\n'),
    );
  } finally {
    await db.end().catch(() => undefined);
    await nats.stop();
    await database.drop();
  }
}

/** Every order's created and paid events, on the stream before any consumer starts. */
async function publishAll(url: string): Promise<void> {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: STREAM, subjects: ['orders.>'] });
  const js = jetstream(nc);
  for (let first = 0; first < orders; first += 500) {
    const batch: Promise<unknown>[] = [];
    for (let n = first; n < Math.min(orders, first + 500); n++) {
      const orderId = randomUUID();
      for (const event of [
        orderEvent(orderId, 1, 'created'),
        orderEvent(orderId, 2, 'paid'),
      ])
        batch.push(
          js.publish(event.type, JSON.stringify(event), { msgID: event.id }),
        );
    }
    await Promise.all(batch);
  }
  await nc.close();
}

/** One round: `processes` consumers on a durable of their own, until the inbox holds every event. */
async function applyAll(
  natsUrl: string,
  databaseUrl: string,
  db: pg.Client,
  processes: number,
  round: number,
): Promise<{ rate: number; early: number }> {
  const durable = `bench-${round}-${processes}`;
  const consumers: ConsumerProcess[] = await Promise.all(
    Array.from({ length: processes }, () =>
      startConsumerProcess({
        NATS_URL: natsUrl,
        EVENTS_STREAM: STREAM,
        FULFILMENT_DATABASE_URL: databaseUrl,
        FULFILMENT_CONSUMER: durable,
        FULFILMENT_CONCURRENCY: String(flags.concurrency),
      }),
    ),
  );
  const rate = await appliedRate(db, durable).catch(async (error: unknown) => {
    await Promise.all(consumers.map((c) => c.stop()));
    throw error;
  });
  const exits = await Promise.all(consumers.map((c) => c.stop()));
  return {
    rate,
    early: exits.reduce((n, e) => n + (e.stats?.early ?? 0), 0),
  };
}

/** Waits until the inbox of `durable` holds every event: events over the first-to-last applied span. */
async function appliedRate(db: pg.Client, durable: string): Promise<number> {
  for (;;) {
    const { rows } = await db.query<{ n: number; seconds: number }>(
      `SELECT count(*)::int AS n,
         extract(epoch FROM max(applied_at) - min(applied_at))::float8 AS seconds
       FROM order_events_inbox WHERE consumer = $1`,
      [durable],
    );
    if (rows[0].n >= events) return events / rows[0].seconds;
    await sleep(100);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
