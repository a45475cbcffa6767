import { randomUUID } from 'node:crypto';
import { chaosTable, runChaos } from './support/chaos';
import { startNatsCluster } from './support/nats-server';
import { createOwnDatabase } from './support/own-database';
import { createScratchDatabase } from './support/scratch-database';
import { startRedisServer } from './support/redis-server';
import { ADMIN_DATABASE_URL, TEST_WEBHOOK_SECRET } from './support/test-env';

/**
 * "Retry is always safe", "every change is announced exactly once" and "every announcement is
 * applied exactly once", proven end to end in one run: thousands of logical orders through
 * @orders/client over a lossy network to three instances of the production build, a fifth of them
 * cancelled and a third paid by signed webhook, their events relayed through the outbox to a 3-node
 * JetStream cluster (a stream of 3 replicas) and applied by two processes of examples/fulfilment
 * (@orders/events), while Redis, Postgres, NATS, the stream's leader, the instances and the
 * consumers fail, and the consumers' acknowledgements are lost. The verdict comes from the orders
 * database, the stream and the fulfilment database.
 */
/** 5,000 in `npm test` (every fault still lands: they are spaced by progress); `npm run test:long` runs more. */
const LOGICAL_ORDERS = Number(process.env.TEST_CHAOS_ORDERS ?? 5000);

describe('the order pipeline under chaos (3 instances, 3 NATS nodes, 2 consumers)', () => {
  it(`turns ${LOGICAL_ORDERS} logical orders into exactly as many rows, each change into exactly one event, in order, and each paid order into one shipment`, async () => {
    // Servers of its own: the run flushes and cuts Redis, and its relay publishes all of its database.
    const [redis, database, cluster, fulfilment] = await Promise.all([
      startRedisServer(),
      createOwnDatabase('chaos'),
      startNatsCluster(3),
      createScratchDatabase(ADMIN_DATABASE_URL, 'orders_test_fulfilment'),
    ]);
    const report = await runChaos({
      databaseUrl: database.url,
      redisUrl: redis.url,
      jwtSecret: process.env.JWT_SECRET!,
      webhookSecret: TEST_WEBHOOK_SECRET,
      logicalOrders: LOGICAL_ORDERS,
      clients: 40,
      seed: 20261129,
      dropRequests: 0.05,
      dropAnswers: 0.05,
      events: { cluster, stream: `CHAOS_${randomUUID().slice(0, 8)}` },
      consumers: {
        databaseUrl: fulfilment.url,
        processes: 2,
        dropAcks: 0.1,
      },
    }).finally(() =>
      Promise.all([
        redis.stop(),
        database.drop(),
        cluster.stop(),
        fulfilment.drop(),
      ]),
    );
    console.log(chaosTable(report));
    expect(report.gaveUp).toEqual([]);
    expect(report.mismatches).toEqual([]);
    expect(report.rowsInDatabase).toBe(LOGICAL_ORDERS);
    expect(report.duplicates).toBe(0);
    expect(report.resolved).toBe(LOGICAL_ORDERS);
    expect(report.cancelled).toBe(Math.ceil(LOGICAL_ORDERS / 5));
    expect(report.paid).toBeGreaterThanOrEqual(Math.floor(LOGICAL_ORDERS / 3));
    expect(report.paidAfterCancel).toBe(Math.ceil(LOGICAL_ORDERS / 10));
    const events = report.events!;
    expect(events.problems).toEqual([]);
    expect(events.duplicates).toBe(0);
    expect(events.orphans).toBe(0);
    expect(events.messages).toBe(
      LOGICAL_ORDERS + report.cancelled + report.paid,
    );
    // A correctness bound, not a speed one: a relay stuck on a dead lease or connection would miss it.
    expect(events.drainedMs).toBeLessThanOrEqual(10_000);
    // The last hop: every event applied once, in order; one shipment per paid order, none for the rest.
    const consumers = report.consumers!;
    expect(consumers.problems).toEqual([]);
    expect(consumers.missing).toBe(0);
    expect(consumers.unknown).toBe(0);
    expect(consumers.applied).toBe(events.messages);
    expect(consumers.shipments).toBe(report.paid);
    expect(consumers.deadLettered).toBe(0);
    // Acknowledgements were really lost, and their redeliveries really found in the inbox.
    expect(consumers.acksDropped).toBeGreaterThan(0);
    expect(consumers.duplicatesSkipped).toBeGreaterThan(0);
    // The faults really happened, and the network really lost answers the app had produced.
    expect(report.faults).toHaveLength(11);
    expect(report.answersDropped).toBeGreaterThan(0);
    expect(report.replayedAnswers).toBeGreaterThan(0);
    // Longer than the run's own bounds added up (a stuck drain or consumer shows in the verdict, not
    // as a timeout): 140 s of workload with a core hogged, then up to 60 s for each drain and 90 s
    // for the consumers.
  }, 480_000);
});
