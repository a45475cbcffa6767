import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAppProcess } from './support/app-process';
import { TcpProxy } from './support/tcp-proxy';
import {
  countOrders,
  createOrder,
  createTestApp,
  newUser,
  send,
  type Sent,
  TestApp,
  tokenFor,
  validOrder,
} from './support/test-app';
import { deliver, paymentEvent } from './support/webhooks';

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

describe('a Postgres connection lost in the middle of a transaction', () => {
  it('fails that request with 503, never the process (node-postgres reports the loss on the checked-out client), and the retry applies the change once', async () => {
    const postgres = await TcpProxy.start(process.env.DATABASE_URL!);
    const app = await startAppProcess({
      DATABASE_URL: postgres.urlFor(process.env.DATABASE_URL!),
      DB_CONNECT_TIMEOUT_MS: '2000',
      PAYMENT_WEBHOOK_SECRETS: process.env.PAYMENT_WEBHOOK_SECRETS!,
    });
    try {
      const token = tokenFor(newUser());
      const created = await send(app.url, 'POST', '/orders', {
        token,
        key: 'mid-transaction',
        body: validOrder(),
      });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      /** Starts `request`, cuts Postgres while its transaction waits on an answer, then lets traffic through again. */
      const cutDuring = async (request: () => Promise<Sent>) => {
        // Every byte 400 ms late: the transaction's first statement is still in flight 500 ms in.
        postgres.delay(400);
        const answer = request();
        await sleep(500);
        postgres.cut();
        postgres.delay(0);
        postgres.restore();
        return answer;
      };
      const patch = () =>
        send(app.url, 'PATCH', `/orders/${id}`, {
          token,
          key: 'patch-once',
          body: { metadata: { cut: 'yes' } },
          headers: { 'if-match': '"1"' },
        });
      const lost = await cutDuring(patch);
      expect(lost.status).toBe(503);
      expect(app.child.exitCode).toBeNull();
      expect((await patch()).status).toBe(200);

      const event = paymentEvent(id);
      const webhookId = `msg_${randomUUID()}`;
      const lostWebhook = await cutDuring(() =>
        deliver(app.url, event, { id: webhookId }),
      );
      expect(lostWebhook.status).toBe(503);
      expect(app.child.exitCode).toBeNull();
      const paid = await deliver(app.url, event, { id: webhookId });
      expect(paid.body).toMatchObject({ outcome: 'paid', duplicate: false });
      const order = await send(app.url, 'GET', `/orders/${id}`, { token });
      expect(order.body).toMatchObject({
        status: 'paid',
        metadata: { cut: 'yes' },
      });
      expect(order.headers.get('etag')).toBe('"3"');
    } finally {
      await app.stop();
      await postgres.close();
    }
  }, 60_000);
});
