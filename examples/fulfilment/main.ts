/**
 * A fulfilment service built on @orders/events: one shipment per paid order, exactly once, from the
 * orders service's events.
 *
 *   npm run example:fulfilment
 *
 * Reads NATS_URL (unset: nats://127.0.0.1:4222; empty: refused, as events are off) with
 * NATS_USER/NATS_PASSWORD, NATS_TOKEN or NATS_CREDS_FILE, EVENTS_STREAM (default ORDERS),
 * EVENTS_SOURCE (default /orders), FULFILMENT_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/fulfilment, created when missing) and FULFILMENT_CONSUMER
 * (the durable name, default fulfilment) from the environment or .env; FULFILMENT_METRICS_PORT, if
 * set, serves the consumer's counters at /metrics (Prometheus text). Run it twice to share the work;
 * SIGTERM or Ctrl-C finishes the events in hand and stops.
 */
import {
  applyInboxSchema,
  isTransientDatabaseError,
  natsConnectOptions,
  OrderEventsConsumer,
} from '@orders/events';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import pg from 'pg';
import { FULFILMENT_SCHEMA_SQL, fulfil } from './fulfilment.ts';

const DEFAULT_DATABASE = 'postgres://postgres@127.0.0.1:5432/fulfilment';

async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const env = process.env;
  // Unset: the machine's NATS. Set but empty: events are off in the service, so nothing to consume.
  const nats = natsConnectOptions({
    ...env,
    NATS_URL: env.NATS_URL ?? 'nats://127.0.0.1:4222',
  });
  if (nats.servers.length === 0)
    throw new Error(
      'NATS_URL is empty (events off): set it to the NATS the orders service publishes to, e.g. nats://127.0.0.1:4222',
    );
  const databaseUrl = env.FULFILMENT_DATABASE_URL ?? DEFAULT_DATABASE;
  await duringStartup('creating the database', () =>
    createDatabaseIfMissing(databaseUrl),
  );
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: 10,
    connectionTimeoutMillis: 5000,
  });
  // An idle connection that breaks is dropped by the pool; this only keeps the process alive.
  pool.on('error', () => undefined);
  await duringStartup('applying the schema', async () => {
    await applyInboxSchema(pool);
    // One process at a time: CREATE TABLE IF NOT EXISTS races when two start together.
    await pool.query(
      `BEGIN; SELECT pg_advisory_xact_lock(hashtext('fulfilment schema')); ${FULFILMENT_SCHEMA_SQL}; COMMIT;`,
    );
  });
  const consumer = new OrderEventsConsumer({
    ...nats,
    stream: env.EVENTS_STREAM || 'ORDERS',
    source: env.EVENTS_SOURCE || '/orders',
    subjectPrefix: env.FULFILMENT_SUBJECT_PREFIX ?? '',
    durable: env.FULFILMENT_CONSUMER ?? 'fulfilment',
    filterSubject: env.FULFILMENT_FILTER_SUBJECT ?? 'orders.>',
    pool,
    handler: fulfil,
    ackWaitMs: Number(env.FULFILMENT_ACK_WAIT_MS ?? 30_000),
    concurrency: Number(env.FULFILMENT_CONCURRENCY ?? 8),
  });
  await consumer.start();
  const metrics = env.FULFILMENT_METRICS_PORT
    ? await serveMetrics(consumer, Number(env.FULFILMENT_METRICS_PORT))
    : undefined;
  console.log('fulfilment: ready');
  const stop = async () => {
    metrics?.close();
    await consumer.stop();
    await pool.end();
    console.log(`fulfilment: stopped ${JSON.stringify(consumer.stats())}`);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

/** How long start-up waits out a database that is restarting, cut or too busy to accept at once. */
const STARTUP_PATIENCE_MS = 60_000;

/**
 * Runs a start-up step again while the database is unreachable (not a Postgres error at all: a
 * refused, reset or timed-out connection) or says it is in trouble (connection, resource or shutdown
 * classes), as a supervisor restarting the process would, but without losing the process; any other
 * error, or the same trouble past STARTUP_PATIENCE_MS, stops the service with its reason.
 */
async function duringStartup(step: string, run: () => Promise<void>) {
  const deadline = Date.now() + STARTUP_PATIENCE_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const refused =
        error instanceof pg.DatabaseError && !isTransientDatabaseError(error);
      if (refused || Date.now() > deadline) throw error;
      if (attempt === 1)
        console.warn(`fulfilment: ${step} failed, retrying: ${String(error)}`);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(2000, 100 * 2 ** attempt)),
      );
    }
  }
}

/** The consumer's counters as Prometheus text: `fulfilment_events_total{outcome="dead_lettered"}` and the rest. */
async function serveMetrics(
  consumer: OrderEventsConsumer,
  port: number,
): Promise<Server> {
  const server = createServer((request, response) => {
    const lines = Object.entries(consumer.stats()).map(
      ([outcome, n]) =>
        `fulfilment_events_total{outcome="${outcome.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}"} ${n}`,
    );
    response.setHeader('content-type', 'text/plain; version=0.0.4');
    response.end(
      `# HELP fulfilment_events_total Order event deliveries by outcome.\n# TYPE fulfilment_events_total counter\n${lines.join('\n')}\n`,
    );
  });
  // Listening before the service says it is ready (a port taken stops it here, with the reason).
  await new Promise<void>((resolve, reject) =>
    server.once('error', reject).listen(port, '127.0.0.1', resolve),
  );
  return server;
}

/** The example's database is its own: created on first run, like a new service's would be. */
async function createDatabaseIfMissing(url: string): Promise<void> {
  const adminUrl = new URL(url);
  const name = decodeURIComponent(adminUrl.pathname.slice(1));
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  try {
    const { rowCount } = await admin.query(
      'SELECT 1 FROM pg_database WHERE datname = $1',
      [name],
    );
    if (!rowCount)
      await admin
        .query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`)
        .catch((error: { code?: string }) => {
          // A second process created it first: what was wanted.
          if (error.code !== '42P04' && error.code !== '23505') throw error;
        });
  } finally {
    await admin.end();
  }
}

main().catch((error: unknown) => {
  console.error(
    `fulfilment: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});
