import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { DataSource } from 'typeorm';
import { TcpProxy } from './support/tcp-proxy';
import {
  createOrder,
  createTestApp,
  newUser,
  send,
  TestApp,
  tokenFor,
} from './support/test-app';
import { TEST_WEBHOOK_SECRET } from './support/test-env';
import { deliver, paymentEvent } from './support/webhooks';

describe('Payment webhooks (Standard Webhooks, exactly-once effect)', () => {
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    t = await createTestApp();
    db = t.app.get(DataSource);
  });
  afterAll(() => t.close());

  /** A new order of a new user (3998 USD cents), and the user's token. */
  async function newOrder(): Promise<{ id: string; token: string }> {
    const token = tokenFor(newUser());
    const created = await createOrder(t, token, randomUUID());
    expect(created.status).toBe(201);
    return { id: created.body.id, token };
  }

  const readOrder = async (order: { id: string; token: string }) =>
    (await send(t.url, 'GET', `/orders/${order.id}`, { token: order.token }))
      .body;

  async function eventRows(webhookId: string): Promise<number> {
    const rows: { n: number }[] = await db.query(
      'SELECT count(*)::int AS n FROM payment_events WHERE webhook_id = $1',
      [webhookId],
    );
    return rows[0].n;
  }

  it('pays an order: 200 with outcome paid; the order shows status paid and paidAt', async () => {
    const order = await newOrder();
    const before = await readOrder(order);
    expect(before).toMatchObject({ status: 'created', paidAt: null });
    const answer = await deliver(t.url, paymentEvent(order.id));
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      received: true,
      duplicate: false,
      outcome: 'paid',
    });
    const after = await readOrder(order);
    expect(after.status).toBe('paid');
    expect(Date.parse(String(after.paidAt))).not.toBeNaN();
    const list = await send(t.url, 'GET', '/orders', { token: order.token });
    expect(list.body.data[0]).toMatchObject({ id: order.id, status: 'paid' });
  });

  it('answers the same webhook-id again with duplicate: true and the first outcome, changing nothing', async () => {
    const order = await newOrder();
    const event = paymentEvent(order.id);
    const id = `msg_${randomUUID()}`;
    expect((await deliver(t.url, event, { id })).body.outcome).toBe('paid');
    const paidAt = (await readOrder(order)).paidAt;
    const again = await deliver(t.url, event, { id });
    expect(again.body).toEqual({
      received: true,
      duplicate: true,
      outcome: 'paid',
    });
    expect((await readOrder(order)).paidAt).toBe(paidAt);
    expect(await eventRows(id)).toBe(1);
  });

  it('turns 20 parallel copies of one event into one effect: one first delivery, 19 duplicates, all "paid"', async () => {
    const order = await newOrder();
    const event = paymentEvent(order.id);
    const id = `msg_${randomUUID()}`;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => deliver(t.url, event, { id })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(answers.filter((a) => !a.body.duplicate)).toHaveLength(1);
    expect(new Set(answers.map((a) => a.body.outcome))).toEqual(
      new Set(['paid']),
    );
    expect(await eventRows(id)).toBe(1);
    expect((await readOrder(order)).status).toBe('paid');
  });

  it('knows the same payment under a new webhook-id (already_paid) from a second payment (duplicate_payment)', async () => {
    const order = await newOrder();
    const event = paymentEvent(order.id);
    expect((await deliver(t.url, event)).body.outcome).toBe('paid');
    const [same, second] = await Promise.all([
      deliver(t.url, event),
      deliver(t.url, paymentEvent(order.id)),
    ]);
    expect(same.body).toMatchObject({
      duplicate: false,
      outcome: 'already_paid',
    });
    expect(second.body).toMatchObject({
      duplicate: false,
      outcome: 'duplicate_payment',
    });
    const [row] = await db.query<{ payment_id: string }[]>(
      'SELECT payment_id FROM orders WHERE id = $1',
      [order.id],
    );
    expect(row.payment_id).toBe(event.data.paymentId);
  });

  it("lets one paymentId pay one order: the same payment for another user's order is payment_reused, order unpaid", async () => {
    const alice = await newOrder();
    const bob = await newOrder();
    const paymentId = `pay_${randomUUID()}`;
    const paid = await deliver(
      t.url,
      paymentEvent(alice.id, { data: { paymentId } }),
    );
    expect(paid.body.outcome).toBe('paid');
    const reused = await deliver(
      t.url,
      paymentEvent(bob.id, { data: { paymentId } }),
    );
    expect(reused.status).toBe(200);
    expect(reused.body).toEqual({
      received: true,
      duplicate: false,
      outcome: 'payment_reused',
    });
    expect((await readOrder(bob)).status).toBe('created');
    expect((await readOrder(alice)).status).toBe('paid');
  });

  it('lets one of 8 webhooks racing to pay 8 orders with one paymentId win (the unique index decides)', async () => {
    const orders = await Promise.all(
      Array.from({ length: 8 }, () => newOrder()),
    );
    const paymentId = `pay_${randomUUID()}`;
    const answers = await Promise.all(
      orders.map((order) =>
        deliver(t.url, paymentEvent(order.id, { data: { paymentId } })),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    const outcomes = answers.map((a) => a.body.outcome as string).sort();
    expect(outcomes).toEqual(['paid', ...Array(7).fill('payment_reused')]);
    const rows: { n: number }[] = await db.query(
      'SELECT count(*)::int AS n FROM orders WHERE payment_id = $1',
      [paymentId],
    );
    expect(rows[0].n).toBe(1);
    const metrics = await (await fetch(`${t.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /orders_payment_webhook_outcomes_total\{outcome="payment_reused",duplicate="false"\} [1-9]/,
    );
  });

  it('records a payment whose amount or currency differ from the total (amount_mismatch), order unchanged', async () => {
    const order = await newOrder();
    for (const data of [{ amountCents: 3997 }, { currency: 'EUR' }]) {
      const answer = await deliver(t.url, paymentEvent(order.id, { data }));
      expect(answer.body.outcome).toBe('amount_mismatch');
    }
    expect((await readOrder(order)).status).toBe('created');
  });

  it('records a payment for a cancelled order for a refund (order_cancelled); a paid order cannot be cancelled', async () => {
    const cancelled = await newOrder();
    await send(t.url, 'DELETE', `/orders/${cancelled.id}`, {
      token: cancelled.token,
    });
    const late = await deliver(t.url, paymentEvent(cancelled.id));
    expect(late.body.outcome).toBe('order_cancelled');
    expect((await readOrder(cancelled)).status).toBe('cancelled');

    const paid = await newOrder();
    await deliver(t.url, paymentEvent(paid.id));
    const cancel = await send(t.url, 'DELETE', `/orders/${paid.id}`, {
      token: paid.token,
    });
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.code).toBe('ORDER_ALREADY_PAID');
    expect((await readOrder(paid)).status).toBe('paid');
  });

  it('answers unknown_order, and ignored for an event type it does not act on', async () => {
    const unknown = await deliver(t.url, paymentEvent(randomUUID()));
    expect(unknown.body).toMatchObject({ outcome: 'unknown_order' });
    const other = await deliver(t.url, {
      type: 'refund.created',
      timestamp: new Date().toISOString(),
      data: { anything: 'goes' },
    });
    expect(other.status).toBe(200);
    expect(other.body).toMatchObject({ duplicate: false, outcome: 'ignored' });
  });

  it('never un-pays: payment.failed before leaves the order unpaid, after leaves it paid', async () => {
    const order = await newOrder();
    const failed = () =>
      deliver(t.url, paymentEvent(order.id, { type: 'payment.failed' }));
    expect((await failed()).body.outcome).toBe('payment_failed');
    expect((await readOrder(order)).status).toBe('created');
    expect((await deliver(t.url, paymentEvent(order.id))).body.outcome).toBe(
      'paid',
    );
    expect((await failed()).body.outcome).toBe('payment_failed');
    expect((await readOrder(order)).status).toBe('paid');
  });

  it('refuses a delivery whose signature does not hold: 401, no effect', async () => {
    const order = await newOrder();
    const event = paymentEvent(order.id);
    const body = JSON.stringify(event);
    const now = Math.floor(Date.now() / 1000);
    const attempts = {
      wrongSecret: { secret: 'whsec_QWxzb0FTZWNyZXRCdXROb3RUaGVPbmVXZVVzZQ==' },
      unknownVersion: {
        signature: 'v2,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=',
      },
      tooOld: { timestamp: now - 6 * 60 },
      tooNew: { timestamp: now + 6 * 60 },
      // Signed over the original bytes, sent with one byte changed.
      oneByteChanged: {
        id: 'msg_fixed',
        timestamp: now,
        rawBody: body.replace('3998', '3999'),
      },
    };
    for (const [name, delivery] of Object.entries(attempts)) {
      const signed =
        name === 'oneByteChanged'
          ? {
              ...delivery,
              signature: new Webhook(TEST_WEBHOOK_SECRET).sign(
                'msg_fixed',
                new Date(now * 1000),
                body,
              ),
            }
          : delivery;
      const answer = await deliver(t.url, event, signed);
      expect({
        name,
        status: answer.status,
        code: answer.body.error?.code,
      }).toEqual({ name, status: 401, code: 'WEBHOOK_SIGNATURE_INVALID' });
    }
    const missing = await send(t.url, 'POST', '/webhooks/payments', {
      body: event,
    });
    expect(missing.status).toBe(401);
    expect((await readOrder(order)).status).toBe('created');
  });

  it('checks the signature before anything reads the body: every unsigned or forged delivery gets one identical 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const signedEvent = JSON.stringify(paymentEvent(randomUUID()));
    const sign = (id: string, timestamp: number, body: string) =>
      new Webhook(TEST_WEBHOOK_SECRET).sign(
        id,
        new Date(timestamp * 1000),
        body,
      );
    const forged = {
      // Before: 415, 400 INVALID_JSON and 400 VALIDATION_FAILED, each saying what it had looked at.
      textBody: { rawBody: 'hello', headers: { 'content-type': 'text/plain' } },
      formBody: {
        rawBody: 'a=1',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
      notJson: { rawBody: '{"type":' },
      badShape: { body: { type: 1, data: [] } },
      emptyJson: { rawBody: '' },
      // Before: each verified, because the package reads the timestamp with parseInt.
      timestampWithLetters: {
        rawBody: signedEvent,
        headers: {
          'webhook-id': 'msg_letters',
          'webhook-timestamp': `${now}abc`,
          'webhook-signature': sign('msg_letters', now, signedEvent),
        },
      },
      timestampWithFraction: {
        rawBody: signedEvent,
        headers: {
          'webhook-id': 'msg_fraction',
          'webhook-timestamp': `0${now}.9`,
          'webhook-signature': sign('msg_fraction', now, signedEvent),
        },
      },
      idWithControlCharacters: {
        rawBody: signedEvent,
        headers: {
          'webhook-id': 'msg one',
          'webhook-timestamp': String(now),
          'webhook-signature': sign('msg one', now, signedEvent),
        },
      },
    };
    const bodies = new Set<string>();
    for (const [name, request] of Object.entries(forged)) {
      const answer = await send(t.url, 'POST', '/webhooks/payments', request);
      expect({ name, status: answer.status }).toEqual({ name, status: 401 });
      bodies.add(JSON.stringify(answer.body));
    }
    expect([...bodies]).toEqual([
      JSON.stringify({
        error: {
          code: 'WEBHOOK_SIGNATURE_INVALID',
          message: 'The webhook signature does not verify',
        },
      }),
    ]);
  });

  it('parses only what the signature covers: signed bytes that are not JSON are 400 INVALID_JSON, a signed __proto__ is refused', async () => {
    const notJson = await deliver(t.url, undefined, { rawBody: '{"type":' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('INVALID_JSON');
    const poisoned = await deliver(t.url, undefined, {
      rawBody:
        '{"type":"x","timestamp":"2026-11-29T12:00:00Z","data":{},"__proto__":{"a":1}}',
    });
    expect(poisoned.status).toBe(400);
    expect(poisoned.body.error.code).toBe('INVALID_JSON');
  });

  it('refuses a replay of an old delivery: the timestamp check closes what the event records no longer hold', async () => {
    const order = await newOrder();
    const event = paymentEvent(order.id);
    const id = `msg_${randomUUID()}`;
    await deliver(t.url, event, { id });
    // The same delivery captured and sent again 10 minutes later (its id purged or not): refused.
    const replay = await deliver(t.url, event, {
      id,
      timestamp: Math.floor(Date.now() / 1000) - 10 * 60,
    });
    expect(replay.status).toBe(401);
  });

  it('validates the event after the signature: 400 VALIDATION_FAILED with details; a body over 64 KiB is 413', async () => {
    const bad = await deliver(t.url, {
      type: 'payment.succeeded',
      timestamp: 'yesterday',
      data: {
        paymentId: '',
        orderId: 'nope',
        amountCents: -1,
        currency: 'usd',
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    expect(
      bad.body.error.details.map((d: { field: string }) => d.field),
    ).toEqual(expect.arrayContaining(['timestamp']));
    const badData = await deliver(t.url, {
      type: 'payment.succeeded',
      timestamp: new Date().toISOString(),
      data: {
        paymentId: '',
        orderId: 'nope',
        amountCents: -1,
        currency: 'usd',
      },
    });
    expect(
      badData.body.error.details.map((d: { field: string }) => d.field).sort(),
    ).toEqual([
      'data.amountCents',
      'data.currency',
      'data.orderId',
      'data.paymentId',
    ]);
    const huge = await deliver(t.url, {
      ...paymentEvent(randomUUID()),
      padding: 'x'.repeat(70 * 1024),
    });
    expect(huge.status).toBe(413);
  });

  it('counts outcomes on /metrics', async () => {
    const metrics = await (await fetch(`${t.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /orders_payment_webhook_outcomes_total\{outcome="paid",duplicate="false"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /orders_payment_webhook_outcomes_total\{outcome="paid",duplicate="true"\} [1-9]/,
    );
  });
});

describe('Payment webhooks: configuration and a sick database', () => {
  it('answers 503 WEBHOOKS_DISABLED when no secret is configured', async () => {
    const t = await createTestApp({ env: { PAYMENT_WEBHOOK_SECRETS: '' } });
    try {
      const answer = await deliver(t.url, paymentEvent(randomUUID()));
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe('WEBHOOKS_DISABLED');
    } finally {
      await t.close();
    }
  });

  it('accepts either secret while one is rotated out', async () => {
    const fresh = 'whsec_TmV3U2VjcmV0Rm9yUm90YXRpb25UZXN0cw==';
    const t = await createTestApp({
      env: {
        PAYMENT_WEBHOOK_SECRETS: `${fresh},${process.env.PAYMENT_WEBHOOK_SECRETS}`,
      },
    });
    try {
      for (const secret of [fresh, process.env.PAYMENT_WEBHOOK_SECRETS!]) {
        const answer = await deliver(t.url, paymentEvent(randomUUID()), {
          secret,
        });
        expect(answer.body.outcome).toBe('unknown_order');
      }
    } finally {
      await t.close();
    }
  });

  it('answers 503 while Postgres is cut, and the redelivery after it takes effect once', async () => {
    const postgres = await TcpProxy.start(process.env.DATABASE_URL!);
    const t = await createTestApp({
      env: {
        DATABASE_URL: postgres.urlFor(process.env.DATABASE_URL!),
        DB_CONNECT_TIMEOUT_MS: '500',
      },
    });
    try {
      const token = tokenFor(newUser());
      const order = (await createOrder(t, token, randomUUID())).body
        .id as string;
      const event = paymentEvent(order);
      const id = `msg_${randomUUID()}`;
      postgres.cut();
      const during = await deliver(t.url, event, { id });
      expect(during.status).toBe(503);
      postgres.restore();
      const answers = [
        await deliver(t.url, event, { id }),
        await deliver(t.url, event, { id }),
      ];
      expect(answers.map((a) => a.body)).toEqual([
        { received: true, duplicate: false, outcome: 'paid' },
        { received: true, duplicate: true, outcome: 'paid' },
      ]);
    } finally {
      postgres.restore();
      await t.close();
      await postgres.close();
    }
  });
});
