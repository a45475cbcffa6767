import { chaosTable, runChaos } from './support/chaos';
import { startRedisServer } from './support/redis-server';

/**
 * The client's half of "retry is always safe", proven end to end: thousands of logical orders through
 * @orders/client over a lossy network to three instances of the production build while Redis,
 * Postgres and the instances themselves fail. The verdict comes from the database.
 */
describe('@orders/client under chaos (3 instances of the production build)', () => {
  it('turns 2,000 logical orders into exactly 2,000 rows, each the order its call resolved with', async () => {
    // A redis-server of its own: the run flushes and cuts it, which no other suite may feel.
    const redis = await startRedisServer();
    const report = await runChaos({
      databaseUrl: process.env.DATABASE_URL!,
      redisUrl: redis.url,
      jwtSecret: process.env.JWT_SECRET!,
      logicalOrders: 2000,
      clients: 40,
      seed: 20261129,
      dropRequests: 0.05,
      dropAnswers: 0.05,
    }).finally(() => redis.stop());
    console.log(chaosTable(report));
    expect(report.gaveUp).toEqual([]);
    expect(report.mismatches).toEqual([]);
    expect(report.rowsInDatabase).toBe(2000);
    expect(report.duplicates).toBe(0);
    expect(report.resolved).toBe(2000);
    // The faults really happened, and the network really lost answers the app had produced.
    expect(report.faults).toHaveLength(6);
    expect(report.answersDropped).toBeGreaterThan(0);
    expect(report.replayedAnswers).toBeGreaterThan(0);
  }, 120_000);
});
