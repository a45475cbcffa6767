import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  jetstream,
  jetstreamManager,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  applyInboxSchema,
  natsConnectOptions,
  OrderEventsConsumer,
} from '@orders/events';
import pg from 'pg';
import { LARGEST_EVENT_BYTES } from '../src/config/events.config';
import {
  FULFILMENT_SCHEMA_SQL,
  fulfil,
} from '../examples/fulfilment/fulfilment';
import {
  type AppProcess,
  freePort,
  startAppProcess,
} from './support/app-process';
import { startNatsServer, type NatsServer } from './support/nats-server';
import { createOwnDatabase } from './support/own-database';
import type { ScratchDatabase } from './support/scratch-database';
import { newUser, send, tokenFor, validOrder } from './support/test-app';
import { until } from './support/until';

const run = promisify(execFile);
const NATS_CONFIG = join(process.cwd(), 'deploy', 'nats', 'nats-server.conf');
// Letters and digits, starting with a letter: the configuration reads a variable's value as it would
// a literal ("1e5..." would be a number).
const SERVICE_PASSWORD = `s${randomUUID().replaceAll('-', '')}`;
const CONSUMER_PASSWORD = `c${randomUUID().replaceAll('-', '')}`;

/**
 * The broker as a trust boundary, against a real nats-server running the compose file's own
 * configuration (deploy/nats/nats-server.conf): the service publishes with its credentials (never
 * logged), a consumer's credentials can read and acknowledge but not publish, purge or delete; the
 * stream is bounded; an event the stream refuses is parked without holding anything else back; a
 * full stream fails no request.
 */
describe('the event pipeline behind an authenticated broker', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const databases: ScratchDatabase[] = [];
  const apps: AppProcess[] = [];

  const serviceUrl = () =>
    nats.url.replace('nats://', `nats://orders:${SERVICE_PASSWORD}@`);
  const asConsumer = () =>
    natsConnectOptions({
      NATS_URL: nats.url,
      NATS_USER: 'consumer',
      NATS_PASSWORD: CONSUMER_PASSWORD,
    });

  // Every stream of the service takes orders.>: each test has a broker of its own.
  beforeEach(async () => {
    nats = await startNatsServer({
      config: NATS_CONFIG,
      env: {
        ORDERS_NATS_PASSWORD: SERVICE_PASSWORD,
        CONSUMER_NATS_PASSWORD: CONSUMER_PASSWORD,
      },
    });
    nc = await connect(asConsumer());
    jsm = await jetstreamManager(nc);
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.stop()));
    await nc?.close();
    await nats?.stop();
  });
  afterAll(async () => {
    await Promise.all(databases.map((database) => database.drop()));
  });

  /** An instance on a database of its own, publishing to `stream` as the service's user. */
  async function startApp(stream: string, env: Record<string, string> = {}) {
    const database = await createOwnDatabase('broker');
    databases.push(database);
    const app = await startAppProcess({
      DATABASE_URL: database.url,
      NATS_URL: serviceUrl(),
      EVENTS_STREAM: stream,
      EVENTS_POLL_MS: '200',
      ...env,
    });
    apps.push(app);
    const db = new pg.Pool({ connectionString: database.url, max: 2 });
    db.on('error', () => undefined); // an idle connection ended by the server is dropped
    const query = async <T extends pg.QueryResultRow>(sql: string) =>
      (await db.query<T>(sql)).rows;
    return { app, database, db, query };
  }
  const metric = async (app: AppProcess, name: string) => {
    const text = await (await fetch(`${app.adminUrl}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  };

  it('publishes as the service user, bounds the stream, and a consumer applies what it reads', async () => {
    const stream = `ORDERS_${randomUUID().slice(0, 8)}`;
    const { app, db, query } = await startApp(stream);
    try {
      await until(() =>
        app.output().includes(`events on (stream ${stream} at ${nats.url})`),
      );
      expect(app.output()).not.toContain(SERVICE_PASSWORD);
      // The largest event the API can produce: every field at its limit in the characters that take
      // the most bytes (control characters are refused; an emoji is 4 bytes and counts as one
      // character in a note or SKU, a euro sign 3 bytes and one UTF-16 unit in a metadata value). A
      // create's body is bounded (64 KiB), so the metadata comes in patches.
      const token = tokenFor(newUser());
      const wide = '\u20ac'.repeat(500);
      const created = await send(app.url, 'POST', '/orders', {
        token,
        key: randomUUID(),
        body: {
          currency: 'USD',
          items: Array.from({ length: 100 }, () => ({
            sku: '\u{1F600}'.repeat(64),
            quantity: 1000,
            unitPriceCents: 1_000_000_000,
          })),
          note: '\u{1F600}'.repeat(500),
        },
      });
      expect(created.status).toBe(201);
      for (let version = 1; version <= 3; version++) {
        const keys = Array.from({ length: 17 }, (_, i) => 17 * version + i);
        const patched = await send(
          app.url,
          'PATCH',
          `/orders/${created.body.id}`,
          {
            token,
            headers: { 'if-match': `"${version}"` },
            body: {
              metadata: Object.fromEntries(
                keys
                  .slice(0, version === 3 ? 16 : 17)
                  .map((i) => [`k${i}`.padEnd(40, 'x'), wide]),
              ),
            },
          },
        );
        expect(patched.status).toBe(200);
      }
      await until(
        async () =>
          (await query('SELECT 1 FROM order_events WHERE published_at IS NULL'))
            .length === 0,
      );
      const info = await jsm.streams.info(stream);
      expect(info.config).toMatchObject({
        deny_delete: true,
        deny_purge: true,
        discard: 'new',
        max_bytes: 8 * 1024 ** 3,
        max_msg_size: 256 * 1024,
      });
      const message = await jsm.streams.getMessage(stream, {
        seq: info.state.last_seq,
      });
      console.log(`largest event: ${message!.data.length} bytes`);
      expect(message!.data.length).toBeLessThanOrEqual(LARGEST_EVENT_BYTES);
      expect(LARGEST_EVENT_BYTES).toBeLessThan(info.config.max_msg_size);

      const pool = new pg.Pool({
        connectionString: databases.at(-1)!.url,
        max: 4,
      });
      pool.on('error', () => undefined); // as events/README.md asks
      try {
        await applyInboxSchema(pool);
        await pool.query(FULFILMENT_SCHEMA_SQL);
        const logged: string[] = [];
        const consumer = new OrderEventsConsumer({
          ...asConsumer(),
          stream,
          durable: 'fulfilment',
          pool,
          handler: fulfil,
          logger: {
            log: () => undefined,
            warn: (line) => logged.push(line),
            error: (line) => logged.push(line),
          },
        });
        await consumer.start();
        // The create and its three patches, the largest event included: none refused.
        await until(() => consumer.stats().applied === 4, {
          timeoutMs: 30_000,
        });
        expect(consumer.stats().deadLettered).toBe(0);
        expect(logged).toEqual([]);
        await consumer.stop();
      } finally {
        await pool.end();
      }
    } finally {
      await db.end();
    }
  });

  it("a consumer's credentials cannot publish an order event, purge the stream or delete a message; no credentials cannot connect", async () => {
    const stream = `ORDERS_${randomUUID().slice(0, 8)}`;
    const { app, db } = await startApp(stream);
    try {
      await send(app.url, 'POST', '/orders', {
        token: tokenFor(newUser()),
        key: randomUUID(),
        body: validOrder(),
      });
      await until(
        async () => !!(await jsm.streams.info(stream).catch(() => undefined)),
      );
      const js = jetstream(nc);
      await expect(
        js.publish('orders.order.paid', '{}', { timeout: 2000 }),
      ).rejects.toThrow(
        /Permissions Violation for Publish to "orders.order.paid"/,
      );
      await expect(jsm.streams.purge(stream)).rejects.toThrow(
        /Permissions Violation/,
      );
      await expect(jsm.streams.deleteMessage(stream, 1)).rejects.toThrow(
        /Permissions Violation/,
      );
      await expect(jsm.streams.delete(stream)).rejects.toThrow(
        /Permissions Violation/,
      );
      await expect(connect({ servers: nats.url })).rejects.toThrow(
        /Authorization Violation/,
      );
      // Even the service's user cannot purge: the stream denies it.
      const service = await connect(
        natsConnectOptions({ NATS_URL: serviceUrl() }),
      );
      try {
        const serviceJsm = await jetstreamManager(service);
        await expect(serviceJsm.streams.purge(stream)).rejects.toThrow(
          /Permissions Violation|purge not permitted/,
        );
      } finally {
        await service.close();
      }
    } finally {
      await db.end();
    }
  });

  it('parks an event the stream refuses for good, with its order behind it, while every other order flows; requeued once fixed', async () => {
    const stream = `ORDERS_${randomUUID().slice(0, 8)}`;
    const limits = {
      EVENTS_STREAM_MAX_MSG_BYTES: '1024',
      EVENTS_MAX_PUBLISH_ATTEMPTS: '2',
      EVENTS_BATCH_SIZE: '4',
    };
    const { app, database, db, query } = await startApp(stream, limits);
    try {
      const token = tokenFor(newUser());
      const create = async (note: string) =>
        (
          await send(app.url, 'POST', '/orders', {
            token,
            key: randomUUID(),
            body: { ...validOrder(), note },
          })
        ).body.id as string;
      // Five events too large for the stream, more than a batch: they must not hold back the rest.
      const large = [];
      for (let i = 0; i < 5; i++)
        large.push(await create('\u20ac'.repeat(500)));
      const small = [];
      for (let i = 0; i < 5; i++) small.push(await create('small'));
      await until(
        async () =>
          (
            await query<{ n: number }>(
              'SELECT count(*)::int AS n FROM order_events WHERE parked_at IS NOT NULL',
            )
          ).at(0)!.n === 5,
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      // The small ones published (their rows gone), the large ones parked and kept.
      await until(
        async () =>
          (
            await query<{ n: number }>(
              'SELECT count(*)::int AS n FROM order_events WHERE parked_at IS NULL',
            )
          ).at(0)!.n === 0,
      );
      expect((await jsm.streams.info(stream)).state.messages).toBe(5);
      expect(await metric(app, 'orders_events_parked_total')).toBe(5);
      // Logged once each: JSON logs leave the process in batches, so the lines are waited for.
      const parkedLines = () =>
        app
          .output()
          .match(
            /parked after 2 refused publishes: message size exceeds maximum allowed/g,
          )?.length ?? 0;
      await until(() => parkedLines() >= 5);
      expect(parkedLines()).toBe(5);
      // A later change of a parked order waits behind it.
      const patched = await send(app.url, 'PATCH', `/orders/${large[0]}`, {
        token,
        body: { note: 'short now' },
        headers: { 'if-match': '"1"' },
      });
      expect(patched.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(
        await query(
          `SELECT sequence FROM order_events WHERE order_id = '${large[0]}' AND published_at IS NULL ORDER BY sequence`,
        ),
      ).toEqual([{ sequence: 1 }, { sequence: 2 }]);
      const listed = await run(
        process.execPath,
        [
          '--disable-warning=MODULE_TYPELESS_PACKAGE_JSON',
          'scripts/events-parked.ts',
        ],
        {
          env: { PATH: process.env.PATH, DATABASE_URL: database.url },
        },
      );
      expect(listed.stdout.trim().split('\n')).toHaveLength(5);
      expect(listed.stdout).toContain(`order ${large[0]}  seq 1`);
      expect(listed.stdout).toContain('holds back 1');
      // Fixed: a larger limit, then the parked events requeued; each order's events go in sequence.
      await app.stop();
      const fixed = await startAppProcess({
        DATABASE_URL: database.url,
        NATS_URL: serviceUrl(),
        EVENTS_STREAM: stream,
        EVENTS_POLL_MS: '200',
      });
      apps.push(fixed);
      const requeued = await run(
        process.execPath,
        [
          '--disable-warning=MODULE_TYPELESS_PACKAGE_JSON',
          'scripts/events-parked.ts',
          '--requeue-all',
        ],
        {
          env: { PATH: process.env.PATH, DATABASE_URL: database.url },
        },
      );
      expect(requeued.stdout).toContain('requeued 5 parked event(s)');
      await until(
        async () =>
          (await query('SELECT 1 FROM order_events WHERE published_at IS NULL'))
            .length === 0,
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      const info = await jsm.streams.info(stream);
      const sequences: number[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const message = await jsm.streams.getMessage(stream, { seq });
        const event = JSON.parse(new TextDecoder().decode(message!.data)) as {
          subject: string;
          sequence: number;
        };
        if (event.subject === large[0]) sequences.push(event.sequence);
      }
      expect(sequences).toEqual([1, 2]);
    } finally {
      await db.end();
    }
  }, 90_000);

  it('parks an event whose subject the broker does not permit the service to publish, while every other event flows', async () => {
    // The compose file's configuration, with the service's publish rights narrowed to two of the
    // event types: a broker misconfigured for the third. The server drops each such publish with an
    // -ERR and sends no acknowledgement, so only the error tells the relay why.
    const dir = mkdtempSync(join(tmpdir(), 'orders-nats-conf-'));
    const config = join(dir, 'nats-server.conf');
    writeFileSync(
      config,
      readFileSync(NATS_CONFIG, 'utf8').replace(
        'allow: ["orders.>", ',
        'allow: ["orders.order.created", "orders.order.updated", ',
      ),
    );
    await nats.stop();
    nats = await startNatsServer({
      config,
      env: {
        ORDERS_NATS_PASSWORD: SERVICE_PASSWORD,
        CONSUMER_NATS_PASSWORD: CONSUMER_PASSWORD,
      },
    });
    await nc.close();
    nc = await connect(asConsumer());
    jsm = await jetstreamManager(nc);
    const stream = `ORDERS_${randomUUID().slice(0, 8)}`;
    const { app, db, query } = await startApp(stream, {
      EVENTS_MAX_PUBLISH_ATTEMPTS: '2',
    });
    try {
      const token = tokenFor(newUser());
      const create = async () =>
        (
          await send(app.url, 'POST', '/orders', {
            token,
            key: randomUUID(),
            body: validOrder(),
          })
        ).body.id as string;
      const cancelled = await create();
      expect(
        (await send(app.url, 'DELETE', `/orders/${cancelled}`, { token }))
          .status,
      ).toBe(200);
      // A later order: its event must not wait behind the refused one.
      await create();
      const rows = () =>
        query<{ order_id: string; type: string; parked: boolean }>(
          'SELECT order_id, type, parked_at IS NOT NULL AS parked FROM order_events ORDER BY position',
        );
      await until(async () => (await rows()).some((row) => row.parked), {
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      // The cancel is parked; both creates reached the stream, the later order's included.
      expect(await rows()).toEqual([
        { order_id: cancelled, type: 'orders.order.cancelled', parked: true },
      ]);
      expect((await jsm.streams.info(stream)).state.messages).toBe(2);
      expect(await metric(app, 'orders_events_parked_total')).toBe(1);
      await until(() =>
        /parked after 2 refused publishes: Permissions Violation for Publish to \\"orders\.order\.cancelled\\"/.test(
          app.output(),
        ),
      );
    } finally {
      await db.end();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("events:tail reads with a consumer's credentials and prints every control character escaped", async () => {
    const service = await connect(
      natsConnectOptions({ NATS_URL: serviceUrl() }),
    );
    try {
      const serviceJsm = await jetstreamManager(service);
      await serviceJsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'] });
      const js = jetstream(service);
      // Escaped in the JSON (so it parses, and the fields hold the characters), and raw (not JSON).
      await js.publish(
        'orders.order.paid',
        JSON.stringify({
          type: 'orders.order.paid\u001b[2J',
          subject: '\u001b]0;pwned\u0007',
          sequence: 1,
          time: 't',
          id: 'i',
          data: { userId: '\u009b31m' },
        }),
      );
      await js.publish(
        'orders.order.paid',
        'raw \u001b[31mred\u001b[0m \u202e',
      );
    } finally {
      await service.close();
    }
    const tail = spawn(
      process.execPath,
      [
        '--disable-warning=MODULE_TYPELESS_PACKAGE_JSON',
        'scripts/events-tail.ts',
        '--all',
      ],
      {
        env: {
          PATH: process.env.PATH,
          NATS_URL: nats.url,
          NATS_USER: 'consumer',
          NATS_PASSWORD: CONSUMER_PASSWORD,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    tail.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    tail.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await until(() => output.includes('(not JSON)'), { timeoutMs: 15_000 });
    } finally {
      tail.kill('SIGINT');
    }
    expect(output).toContain('orders.order.paid\\u001b[2J');
    expect(output).toContain('\\u001b]0;pwned\\u0007');
    expect(output).toContain('user \\u009b31m');
    expect(output).toContain('raw \\u001b[31mred\\u001b[0m \\u202e');
    expect(output).not.toMatch(
      // eslint-disable-next-line no-control-regex -- no raw control character may reach the terminal
      /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/,
    );
  });

  it('NATS not answering is on the start-up line, named with NATS_URL in the warning, and counted', async () => {
    const dead = `nats://127.0.0.1:${await freePort()}`;
    const { app, db } = await startApp('ORDERS', { NATS_URL: dead });
    try {
      // The line comes once start-up is done, after the app already answers.
      await until(() =>
        app
          .output()
          .includes(
            `events on, NATS at ${dead} not answering (NATS_URL): events wait in the outbox`,
          ),
      );
      const created = await send(app.url, 'POST', '/orders', {
        token: tokenFor(newUser()),
        key: randomUUID(),
        body: validOrder(),
      });
      expect(created.status).toBe(201);
      await until(
        async () =>
          (await metric(app, 'orders_events_publish_failures_total')) > 0,
        { timeoutMs: 15_000 },
      );
      await until(() =>
        app.output().includes(`NATS at ${dead} (NATS_URL) is not answering`),
      );
    } finally {
      await db.end();
    }
  });

  it('a full stream fails no request: events wait in the outbox, counted, none parked', async () => {
    const stream = `ORDERS_${randomUUID().slice(0, 8)}`;
    const { app, db, query } = await startApp(stream, {
      EVENTS_STREAM_MAX_BYTES: '4096',
      EVENTS_MAX_PUBLISH_ATTEMPTS: '1',
    });
    try {
      const token = tokenFor(newUser());
      for (let i = 0; i < 20; i++) {
        const created = await send(app.url, 'POST', '/orders', {
          token,
          key: randomUUID(),
          body: validOrder(),
        });
        expect(created.status).toBe(201);
      }
      await until(
        async () =>
          (await metric(app, 'orders_events_publish_failures_total')) > 0,
        { timeoutMs: 15_000 },
      );
      const [{ pending, parked }] = await query<{
        pending: number;
        parked: number;
      }>(
        'SELECT count(*) FILTER (WHERE published_at IS NULL)::int AS pending, count(parked_at)::int AS parked FROM order_events',
      );
      expect(pending).toBeGreaterThan(0);
      expect(parked).toBe(0);
      expect((await send(app.url, 'GET', '/health/ready')).status).toBe(200);
    } finally {
      await db.end();
    }
  });
});
