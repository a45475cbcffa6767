import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createClient } from 'redis';
import {
  migratedDatabase,
  type PostgresCluster,
  startPostgresCluster,
} from './support/postgres-cluster';
import { TcpProxy } from './support/tcp-proxy';
import {
  createOrder,
  createTestAppOn,
  idempotencyRedisKey,
  newUser,
  send,
  type TestApp,
  tokenFor,
} from './support/test-app';
import { until } from './support/until';

/**
 * A failover that loses an acknowledged commit, as asynchronous replication can: a primary and a
 * standby of the suite's own, replication cut, an order made on the primary (201, and its response
 * in Redis), then the standby promoted behind the app's fixed address and the old primary gone.
 * The Redis entry names an order the new primary does not have; it must never be served.
 */
describe('After a failover that lost acknowledged commits', () => {
  const redis = createClient({ url: process.env.REDIS_URL });
  let primary: PostgresCluster;
  let standby: PostgresCluster;
  let replication: TcpProxy;
  let address: TcpProxy;
  let t: TestApp;

  beforeAll(async () => {
    await redis.connect();
    primary = await startPostgresCluster();
    const url = await migratedDatabase(primary);
    replication = await TcpProxy.start(primary.url);
    standby = await primary.startStandby(replication.port);
    address = await TcpProxy.start(primary.url);
    t = await createTestAppOn(address.urlFor(url), {
      DB_CONNECT_TIMEOUT_MS: '1000',
    });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await Promise.all([replication, address].map((p) => p?.close()));
    await standby?.stop();
    await primary?.stop().catch(() => undefined);
    await redis.quit();
  });

  /** Whether the standby has replayed everything the primary has written so far. */
  const caughtUp = async (): Promise<boolean> => {
    const db = new Client({ connectionString: primary.url });
    await db.connect();
    try {
      const { rows } = await db.query<{ ok: boolean }>(
        'SELECT bool_and(replay_lsn >= pg_current_wal_lsn()) AS ok FROM pg_stat_replication',
      );
      return rows[0].ok === true;
    } finally {
      await db.end();
    }
  };

  it('a retry whose stored response names a lost order makes the order anew; one whose order survived gets it back; neither is served from the old entry', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const [kept, lost] = [randomUUID(), randomUUID()];
    const survivor = await createOrder(t, token, kept);
    expect(survivor.status).toBe(201);
    await until(caughtUp, { timeoutMs: 20_000 });
    // The standby stops receiving; the primary goes on acknowledging (asynchronous replication).
    replication.cut();
    const first = await createOrder(t, token, lost);
    expect(first.status).toBe(201);
    const lostId = (first.body as { id: string }).id;
    expect(await redis.exists(idempotencyRedisKey(user, lost))).toBe(1);

    // The failover: the old primary is gone, the standby promoted behind the same address.
    address.cut();
    await primary.stop();
    await standby.promote();
    address.retarget(standby.url);
    address.restore();
    await until(
      async () => (await send(t.url, 'GET', '/health/ready')).status === 200,
      { timeoutMs: 20_000 },
    );

    const retry = await createOrder(t, token, lost);
    expect(retry.status).toBe(201);
    const madeId = (retry.body as { id: string }).id;
    expect(madeId).not.toBe(lostId);
    expect(
      (await send(t.url, 'GET', `/orders/${madeId}`, { token })).status,
    ).toBe(200);
    expect(
      (await send(t.url, 'GET', `/orders/${lostId}`, { token })).status,
    ).toBe(404);
    // The order that reached the standby is answered from its row, the same one.
    const again = await createOrder(t, token, kept);
    expect([200, 201]).toContain(again.status);
    expect((again.body as { id: string }).id).toBe(
      (survivor.body as { id: string }).id,
    );
    // A second retry of either is a replay of what the new history holds.
    const twice = await createOrder(t, token, lost);
    expect((twice.body as { id: string }).id).toBe(madeId);
  }, 120_000);
});
