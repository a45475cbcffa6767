import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import {
  type AppProcess,
  freePort,
  startAppProcess,
} from './support/app-process';
import { startNatsServer, type NatsServer } from './support/nats-server';
import { createOwnDatabase } from './support/own-database';
import type { ScratchDatabase } from './support/scratch-database';
import {
  createOrder,
  newUser,
  send,
  tokenFor,
  validOrder,
} from './support/test-app';
import { until } from './support/until';
import { deliver, paymentEvent } from './support/webhooks';

interface StreamedEvent {
  seq: number;
  subject: string;
  msgId: string | undefined;
  event: {
    specversion: string;
    id: string;
    source: string;
    type: string;
    subject: string;
    time: string;
    datacontenttype: string;
    sequence: number;
    data: Record<string, unknown> & { id: string; userId: string };
  };
}

/**
 * Order events through the outbox to a real JetStream (a nats-server of the suite's own), from
 * production-build instances on a database of the suite's own (the relay publishes every pending
 * event of its database, and its lease is database-wide).
 */
describe('order events: outbox to NATS JetStream, exactly once per change', () => {
  let nats: NatsServer;
  let database: ScratchDatabase;
  let db: Client;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const apps: AppProcess[] = [];
  const stream = `ORDERS_${randomUUID().slice(0, 8)}`;

  const appEnv = () => ({
    DATABASE_URL: database.url,
    NATS_URL: nats.url,
    EVENTS_STREAM: stream,
    EVENTS_POLL_MS: '200',
    PAYMENT_WEBHOOK_SECRETS: process.env.PAYMENT_WEBHOOK_SECRETS!,
  });

  async function startApp(extra: Record<string, string> = {}) {
    const app = await startAppProcess({ ...appEnv(), ...extra });
    apps.push(app);
    return app;
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    database = await createOwnDatabase('events');
    db = new Client({ connectionString: database.url });
    await db.connect();
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()));
    await nc?.close();
    await db?.end();
    await database?.drop();
    await nats?.stop();
  });

  const pending = async () =>
    (
      await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM order_events WHERE published_at IS NULL',
      )
    ).rows[0].n;

  async function streamed(): Promise<StreamedEvent[]> {
    const info = await jsm.streams.info(stream);
    const events: StreamedEvent[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const message = await jsm.streams.getMessage(stream, { seq });
      if (!message) continue;
      events.push({
        seq,
        subject: message.subject,
        msgId: message.header.get('Nats-Msg-Id'),
        event: JSON.parse(
          new TextDecoder().decode(message.data),
        ) as StreamedEvent['event'],
      });
    }
    return events;
  }

  /** The outbox rows of these orders, whatever their state. */
  const outboxRows = async (orders: string[]) =>
    (
      await db.query<{ sequence: number; published: boolean }>(
        `SELECT sequence, published_at IS NOT NULL AS published FROM order_events
         WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, sequence`,
        [orders],
      )
    ).rows;

  const eventsOf = async (orderId: string) =>
    (await streamed()).filter((e) => e.event.subject === orderId);

  it('publishes one event per change, in sequence, and none for a retried create, a second cancel or a duplicate webhook', async () => {
    const app = await startApp();
    const user = newUser();
    const token = tokenFor(user);
    const body = { ...validOrder(), metadata: { cartId: 'c-1' } };
    const created = await send(app.url, 'POST', '/orders', {
      token,
      key: 'k-1',
      body,
    });
    expect(created.status).toBe(201);
    const retried = await send(app.url, 'POST', '/orders', {
      token,
      key: 'k-1',
      body,
    });
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    const id = created.body.id as string;
    const patched = await send(app.url, 'PATCH', `/orders/${id}`, {
      token,
      body: { note: 'changed' },
      headers: { 'if-match': '"1"' },
    });
    expect(patched.status).toBe(200);
    const webhookId = `msg_${randomUUID()}`;
    const event = paymentEvent(id);
    expect(
      (await deliver(app.url, event, { id: webhookId })).body.outcome,
    ).toBe('paid');
    expect(
      (await deliver(app.url, event, { id: webhookId })).body.duplicate,
    ).toBe(true);

    const other = await send(app.url, 'POST', '/orders', {
      token,
      key: 'k-2',
      body: validOrder(),
    });
    const otherId = other.body.id as string;
    for (let i = 0; i < 2; i++)
      expect(
        (await send(app.url, 'DELETE', `/orders/${otherId}`, { token })).status,
      ).toBe(200);

    await until(async () => (await pending()) === 0, {
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    const first = await eventsOf(id);
    expect(first.map((e) => [e.event.type, e.event.sequence])).toEqual([
      ['orders.order.created', 1],
      ['orders.order.updated', 2],
      ['orders.order.paid', 3],
    ]);
    const second = await eventsOf(otherId);
    expect(second.map((e) => [e.event.type, e.event.sequence])).toEqual([
      ['orders.order.created', 1],
      ['orders.order.cancelled', 2],
    ]);
    // CloudEvents 1.0, structured: the id is the Nats-Msg-Id, the subject the order, the data the
    // order as GET shows it after that change, plus its user.
    const current = await send(app.url, 'GET', `/orders/${id}`, { token });
    const paid = first[2];
    expect(paid.msgId).toBe(paid.event.id);
    expect(paid.subject).toBe('orders.order.paid');
    expect(paid.event).toMatchObject({
      specversion: '1.0',
      source: '/orders',
      subject: id,
      datacontenttype: 'application/json',
    });
    expect(new Date(paid.event.time).toISOString()).toBe(paid.event.time);
    expect(paid.event.data).toEqual({ ...current.body, userId: user });
    expect(first[0].event.data).toMatchObject({
      status: 'created',
      note: 'leave at the door',
      metadata: { cartId: 'c-1' },
    });
    // The stream holds them now; the outbox (EVENTS_OUTBOX_RETENTION_SECONDS=0) keeps none.
    expect(await outboxRows([id, otherId])).toEqual([]);
  }, 60_000);

  it('keeps acknowledged rows, marked published, for EVENTS_OUTBOX_RETENTION_SECONDS when it is set', async () => {
    // The relay that runs decides: only this instance may hold the lease.
    for (const app of apps.splice(0)) await app.stop();
    const app = await startApp({ EVENTS_OUTBOX_RETENTION_SECONDS: '3600' });
    const created = await createOrder(app, tokenFor(newUser()), 'kept-1');
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await until(
      async () => (await eventsOf(id)).length === 1 && (await pending()) === 0,
      {
        timeoutMs: 20_000,
        intervalMs: 100,
      },
    );
    const rows = await outboxRows([id]);
    expect(rows).toEqual([{ sequence: 1, published: true }]);
  }, 60_000);

  it('refuses a change whose event would take a version that already has one: the change and the event there stay as they were', async () => {
    const app = await startApp();
    const token = tokenFor(newUser());
    const created = await createOrder(app, token, 'k-1');
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    // Only a bug (or a hand-written row) can take version 2 first; ON CONFLICT DO NOTHING used to
    // drop the change's own event then, and the change committed without one.
    await db.query(
      `INSERT INTO order_events (order_id, user_id, type, sequence, data, published_at)
       VALUES ($1, 'someone', 'orders.order.updated', 2, '{"stray":true}', now())`,
      [id],
    );
    const patched = await send(app.url, 'PATCH', `/orders/${id}`, {
      token,
      body: { note: 'changed' },
      headers: { 'if-match': '"1"' },
    });
    expect(patched.status).toBe(500);
    expect(patched.body).toEqual({
      error: { code: 'INTERNAL', message: expect.any(String) },
    });
    const read = await send(app.url, 'GET', `/orders/${id}`, { token });
    expect(read.headers.get('etag')).toBe('"1"');
    expect(read.body.note).not.toBe('changed');
    // Version 1's event may be published (and its row gone) by now; version 2 is the stray one.
    const { rows } = await db.query<{ sequence: number; data: object }>(
      'SELECT sequence, data FROM order_events WHERE order_id = $1 AND sequence > 1',
      [id],
    );
    expect(rows).toEqual([{ sequence: 2, data: { stray: true } }]);
  });

  it('re-publishes, under the same Nats-Msg-Id, an event whose relay died after the ack and before marking it: the stream keeps one', async () => {
    for (const app of apps.splice(0)) await app.stop();
    const doomed = await startAppProcess({
      ...appEnv(),
      ORDERS_TEST_FAULT: 'crash-after-publish',
    });
    const user = newUser();
    const answer = await send(doomed.url, 'POST', '/orders', {
      token: tokenFor(user),
      key: 'crash-1',
      body: validOrder(),
    }).catch(() => undefined);
    // The relay wakes on the commit and may kill the process before the answer is out (a client
    // would retry that): the order is read back from the database either way.
    if (answer) expect(answer.status).toBe(201);
    const exit = await doomed.exited;
    expect(exit.signal).toBe('SIGKILL');
    const { rows } = await db.query<{ id: string }>(
      'SELECT id FROM orders WHERE user_id = $1',
      [user],
    );
    expect(rows).toHaveLength(1);
    const created = { body: { id: rows[0].id } };
    // Acknowledged by the stream, never marked.
    expect(await pending()).toBe(1);
    expect((await eventsOf(created.body.id)).length).toBe(1);
    // Its lease runs out; the next relay publishes it again and the stream drops the copy.
    await startApp();
    await until(async () => (await pending()) === 0, {
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    const events = await eventsOf(created.body.id);
    expect(events).toHaveLength(1);
    expect(events[0].msgId).toBe(events[0].event.id);
  }, 60_000);

  it('never fails or holds an API request while NATS is down; the backlog drains in order when it returns', async () => {
    const app = apps[0] ?? (await startApp());
    await nats.kill();
    const token = tokenFor(newUser());
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const started = Date.now();
      const created = await send(app.url, 'POST', '/orders', {
        token,
        key: `down-${i}`,
        body: validOrder(),
      });
      expect(created.status).toBe(201);
      expect(Date.now() - started).toBeLessThan(2000);
      ids.push(created.body.id as string);
    }
    await send(app.url, 'DELETE', `/orders/${ids[0]}`, { token });
    expect((await send(app.url, 'GET', '/health/ready')).status).toBe(200);
    expect(await pending()).toBeGreaterThanOrEqual(11);
    const metrics = await fetch(`${app.adminUrl}/metrics`).then((r) =>
      r.text(),
    );
    expect(metrics).toMatch(/^orders_events_pending (1[1-9]|[2-9]\d)/m);
    await nats.start();
    await until(async () => (await pending()) === 0, {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    // This suite's own connection reconnects on its own schedule: the relay's may have drained first.
    await until(
      async () => !!(await jsm.streams.info(stream).catch(() => undefined)),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const cancelled = await eventsOf(ids[0]);
    expect(cancelled.map((e) => e.event.type)).toEqual([
      'orders.order.created',
      'orders.order.cancelled',
    ]);
    for (const id of ids.slice(1)) expect(await eventsOf(id)).toHaveLength(1);
  }, 90_000);

  it('hands the relay to another instance within 5 s of its holder dying', async () => {
    for (const app of apps.splice(0)) await app.stop();
    const [one, two] = await Promise.all([startApp(), startApp()]);
    const holderPid = async () => {
      const { rows } = await db.query<{ holder: string | null }>(
        "SELECT holder FROM order_events_relay WHERE name = 'relay' AND expires_at > now()",
      );
      return rows[0]?.holder ? Number(rows[0].holder.split(':')[1]) : undefined;
    };
    await until(async () => (await holderPid()) !== undefined, {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    const leader = (await holderPid()) === one.child.pid ? one : two;
    const standby = leader === one ? two : one;
    await leader.stop('SIGKILL');
    const died = Date.now();
    await until(async () => (await holderPid()) === standby.child.pid, {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    expect(Date.now() - died).toBeLessThan(5000);
    const created = await send(standby.url, 'POST', '/orders', {
      token: tokenFor(newUser()),
      key: 'after-takeover',
      body: validOrder(),
    });
    await until(async () => (await pending()) === 0, {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    expect(await eventsOf(created.body.id as string)).toHaveLength(1);
  }, 60_000);

  it('reports a stream it cannot set up in one log line, keeps the events pending, and keeps serving', async () => {
    for (const app of apps.splice(0)) await app.stop();
    // Another stream already owns the subjects: JetStream refuses ours.
    const other = await startNatsServer();
    const otherConnection = await connect({ servers: other.url });
    try {
      await (
        await jetstreamManager(otherConnection)
      ).streams.add({ name: 'SOMEONE_ELSE', subjects: ['orders.>'] });
      const app = await startAppProcess({
        ...appEnv(),
        NATS_URL: other.url,
      });
      apps.push(app);
      const created = await send(app.url, 'POST', '/orders', {
        token: tokenFor(newUser()),
        key: 'refused-stream',
        body: validOrder(),
      });
      expect(created.status).toBe(201);
      await until(
        () => Promise.resolve(app.output().includes('events stay pending')),
        {
          timeoutMs: 10_000,
          intervalMs: 100,
        },
      );
      // The relay retries, but says it once.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(app.output().split('events stay pending').length - 1).toBe(1);
      expect(app.output()).toContain(`stream ${stream} (subjects orders.>`);
      expect(await pending()).toBeGreaterThanOrEqual(1);
      expect((await send(app.url, 'GET', '/health/ready')).status).toBe(200);
    } finally {
      await otherConnection.close();
      await other.stop();
      // Leave nothing pending for a later test: this database's events are about another broker.
      await db.query(
        'UPDATE order_events SET published_at = now() WHERE published_at IS NULL',
      );
    }
  }, 60_000);
  it('lets commits not wake a relay that cannot reach NATS: it tries again once per EVENTS_POLL_MS', async () => {
    for (const app of apps.splice(0)) await app.stop();
    // Each round that finds NATS away counts the due events (at most a batch) as failed publishes,
    // so the counter bounds the rounds. Woken by every commit, as it was, the relay ran a round per
    // create here (about 30 x 31 / 2 = 465 counted), each reading the pending rows again.
    const app = await startApp({
      NATS_URL: `nats://127.0.0.1:${await freePort()}`,
      EVENTS_POLL_MS: '1000',
    });
    const failures = async () => {
      const text = await (await fetch(`${app.adminUrl}/metrics`)).text();
      return Number(
        /^orders_events_publish_failures_total (\d+)/m.exec(text)?.[1] ?? 0,
      );
    };
    try {
      const before = await failures();
      const token = tokenFor(newUser());
      const creates = 30;
      const started = Date.now();
      for (let i = 0; i < creates; i++) {
        const created = await send(app.url, 'POST', '/orders', {
          token,
          key: `away-${i}`,
          body: validOrder(),
        });
        expect(created.status).toBe(201);
      }
      // A round after the last create counts them all.
      await until(async () => (await failures()) - before >= creates, {
        timeoutMs: 10_000,
        intervalMs: 50,
      });
      const counted = (await failures()) - before;
      const rounds = Math.floor((Date.now() - started) / 1000) + 2;
      expect(counted).toBeLessThanOrEqual(creates * rounds);
      expect(await pending()).toBeGreaterThanOrEqual(creates);
    } finally {
      await app.stop();
      apps.splice(apps.indexOf(app), 1);
      await db.query(
        'UPDATE order_events SET published_at = now() WHERE published_at IS NULL',
      );
    }
  }, 60_000);
});
