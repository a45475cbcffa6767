import { TcpProxy } from './support/tcp-proxy';
import {
  countOrders,
  createOrder,
  createTestApp,
  newUser,
  TestApp,
  tokenFor,
} from './support/test-app';

describe('Postgres outage', () => {
  let postgres: TcpProxy;
  let t: TestApp;

  beforeAll(async () => {
    postgres = await TcpProxy.start(process.env.DATABASE_URL!);
    t = await createTestApp({
      env: {
        DATABASE_URL: postgres.urlFor(process.env.DATABASE_URL!),
        DB_CONNECT_TIMEOUT_MS: '500',
        DB_STATEMENT_TIMEOUT_MS: '1000',
      },
    });
  });
  afterAll(async () => {
    postgres.restore();
    await t.close();
    await postgres.close();
  });

  it('answers 503 SERVICE_UNAVAILABLE quickly, stores nothing, and the retry after recovery creates one order', async () => {
    const user = newUser();
    const token = tokenFor(user);
    postgres.cut();
    const started = Date.now();
    const during = await createOrder(t, token, 'pg-down-1');
    expect(during.status).toBe(503);
    expect(during.body).toEqual({
      error: { code: 'SERVICE_UNAVAILABLE', message: expect.any(String) },
    });
    expect(Date.now() - started).toBeLessThan(5000);
    // The 503 was not remembered: a second try while still down is a 503 too, not a replay or a 409.
    expect((await createOrder(t, token, 'pg-down-1')).status).toBe(503);

    postgres.restore();
    const after = await createOrder(t, token, 'pg-down-1');
    expect(after.status).toBe(201);
    expect(after.headers.get('idempotent-replayed')).toBeNull();
    const replay = await createOrder(t, token, 'pg-down-1');
    expect(replay.body.id).toBe(after.body.id);
    expect(await countOrders(t, user)).toBe(1);
  });
});
