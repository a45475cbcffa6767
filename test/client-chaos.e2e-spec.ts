import { chaosTable, runChaos } from './support/chaos';
import { startRedisServer } from './support/redis-server';

/**
 * The client's half of "retry is always safe", proven end to end: thousands of logical orders through
 * @orders/client over a lossy network to three instances of the production build while Redis,
 * Postgres and the instances themselves fail. The verdict comes from the database.
 */
/** 1,200 in `npm test` (every fault still lands: they are spaced by progress); `npm run test:long` runs 2,000. */
const LOGICAL_ORDERS = Number(process.env.TEST_CHAOS_ORDERS ?? 1200);

describe('@orders/client under chaos (3 instances of the production build)', () => {
  it(`turns ${LOGICAL_ORDERS} logical orders into exactly as many rows, each the order its call resolved with`, async () => {
    // A redis-server of its own: the run flushes and cuts it, which no other suite may feel.
    const redis = await startRedisServer();
    const report = await runChaos({
      databaseUrl: process.env.DATABASE_URL!,
      redisUrl: redis.url,
      jwtSecret: process.env.JWT_SECRET!,
      logicalOrders: LOGICAL_ORDERS,
      clients: 40,
      seed: 20261129,
      dropRequests: 0.05,
      dropAnswers: 0.05,
    }).finally(() => redis.stop());
    console.log(chaosTable(report));
    expect(report.gaveUp).toEqual([]);
    expect(report.mismatches).toEqual([]);
    expect(report.rowsInDatabase).toBe(LOGICAL_ORDERS);
    expect(report.duplicates).toBe(0);
    expect(report.resolved).toBe(LOGICAL_ORDERS);
    // The faults really happened, and the network really lost answers the app had produced.
    expect(report.faults).toHaveLength(6);
    expect(report.answersDropped).toBeGreaterThan(0);
    expect(report.replayedAnswers).toBeGreaterThan(0);
  }, 120_000);
});
