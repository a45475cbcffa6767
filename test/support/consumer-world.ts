import {
  jetstream,
  jetstreamManager,
  type JetStreamClient,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  applyInboxSchema,
  type ConsumerLogger,
  OrderEventsConsumer,
  type OrderEventsConsumerOptions,
} from '@orders/events';
import pg from 'pg';
import {
  FULFILMENT_SCHEMA_SQL,
  fulfil,
} from '../../examples/fulfilment/fulfilment.ts';
import { startNatsServer, type NatsServer } from './nats-server.ts';
import { publishEvent } from './order-event-fixtures.ts';
import {
  createScratchDatabase,
  type ScratchDatabase,
} from './scratch-database.ts';
import { ADMIN_DATABASE_URL } from './test-env.ts';

/** What the consumer suites share: one NATS connection and one database pool, and who to stop. */
export interface ConsumerSuite {
  nc: NatsConnection;
  js: JetStreamClient;
  pool: pg.Pool;
  consumers: OrderEventsConsumer[];
}

let worlds = 0;

/**
 * Registers the suite's hooks: a nats-server and a scratch database (inbox and fulfilment tables)
 * of its own before all, every consumer stopped after each test, all removed after all. The
 * returned object is filled in by the time the tests run.
 */
export function useConsumerSuite(
  name: string,
): ConsumerSuite & { nats: NatsServer; database: ScratchDatabase } {
  const suite = { consumers: [] } as unknown as ConsumerSuite & {
    nats: NatsServer;
    database: ScratchDatabase;
  };
  beforeAll(async () => {
    [suite.nats, suite.database] = await Promise.all([
      startNatsServer(),
      createScratchDatabase(ADMIN_DATABASE_URL, `orders_test_${name}`),
    ]);
    suite.nc = await connect({ servers: suite.nats.url });
    suite.js = jetstream(suite.nc);
    suite.pool = new pg.Pool({ connectionString: suite.database.url, max: 24 });
    // As events/README.md asks of every user: an idle connection the server ends is dropped by the
    // pool. Without a listener, pg-pool raises it as an unhandled error, and the test running fails.
    suite.pool.on('error', () => undefined);
    await applyInboxSchema(suite.pool);
    await suite.pool.query(FULFILMENT_SCHEMA_SQL);
  });
  afterEach(async () => {
    await Promise.all(suite.consumers.splice(0).map((c) => c.stop()));
  });
  afterAll(async () => {
    await suite.pool?.end();
    await suite.nc?.close();
    await Promise.all([suite.nats?.stop(), suite.database?.drop()]);
  });
  return suite;
}

/**
 * A stream of the test's own (`<prefix>.>`, named after the suite and a counter), and what a
 * consumer on it needs: start() builds a consumer with the fulfilment example's handler, the
 * stream's subjects as its filter and prefix, and a logger that keeps its warnings and errors.
 */
export async function consumerWorld(suite: ConsumerSuite, name: string) {
  const prefix = `${name}${++worlds}`;
  const stream = `${name.toUpperCase()}_${worlds}`;
  const jsm = await jetstreamManager(suite.nc);
  await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
  const logged: string[] = [];
  const logger: ConsumerLogger = {
    log: () => undefined,
    warn: (line) => logged.push(line),
    error: (line) => logged.push(line),
  };
  const durable = `durable-${prefix}`;
  const start = async (
    options: Partial<OrderEventsConsumerOptions> = {},
  ): Promise<OrderEventsConsumer> => {
    const consumer = new OrderEventsConsumer({
      connection: suite.nc,
      stream,
      durable,
      filterSubject: `${prefix}.>`,
      subjectPrefix: `${prefix}.`,
      pool: suite.pool,
      handler: fulfil,
      logger,
      ...options,
    });
    suite.consumers.push(consumer);
    await consumer.start();
    return consumer;
  };
  const publish = (body: Parameters<typeof publishEvent>[2], msgId?: string) =>
    publishEvent(suite.js, prefix, body, msgId);
  return { prefix, stream, durable, start, publish, logged };
}
