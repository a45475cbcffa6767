import { jetstreamManager } from '@nats-io/jetstream';
import { connect as connectNats } from '@nats-io/transport-node';
import { OrdersClient, type RetryReason } from '@orders/client';
import jwt from 'jsonwebtoken';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createClient } from 'redis';
import { Webhook } from 'standardwebhooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AppProcess, startAppProcess } from './app-process.ts';
import {
  type EventsVerdict,
  eventsVerdict,
  readStream,
  waitForDrain,
} from './chaos-events.ts';
import {
  type ConsumersVerdict,
  consumersRows,
  FulfilmentConsumers,
} from './chaos-consumers.ts';
import { LossyHttpProxy } from './lossy-http-proxy.ts';
import type { NatsCluster } from './nats-server.ts';
import { seededRandom } from './seeded-random.ts';
import { TcpProxy } from './tcp-proxy.ts';

export interface ChaosOptions {
  /** A migrated database (the instances do not run migrations unless `migrate`). */
  databaseUrl: string;
  /** A Redis database of its own: the run flushes it. */
  redisUrl: string;
  jwtSecret: string;
  logicalOrders: number;
  clients: number;
  seed: number;
  /** Share of requests cut before the app sees them, and of answers cut after it produced them. */
  dropRequests: number;
  dropAnswers: number;
  /** The payment provider's Standard Webhooks secret (whsec_...): every paid order is paid by a signed webhook. */
  webhookSecret: string;
  /** The first instance runs the migrations (a fresh database). */
  migrate?: boolean;
  /**
   * Order events on, to a stream of 3 replicas on this JetStream cluster (the database must be the
   * run's own: the relay publishes all of it). Adds the broker's faults and the events verdict.
   */
  events?: { cluster: NatsCluster; stream: string };
  /**
   * With events on: examples/fulfilment as the last hop, `processes` consumer processes on a
   * database of their own, losing `dropAcks` of their acknowledgements, SIGKILLed and cut from
   * their Postgres mid-run. Adds their verdict.
   */
  consumers?: { databaseUrl: string; processes: number; dropAcks: number };
  /**
   * In place of the run's own faults (Redis, Postgres proxies, instances, the broker): these, each
   * at its share of progress, resolving with what it did (test:ha injects database failovers).
   */
  faults?: [number, () => Promise<string>][];
  log?: (line: string) => void;
}

export interface ChaosReport {
  logicalOrders: number;
  resolved: number;
  /** Orders cancelled and orders paid by webhook after they were placed (a fifth; a third). */
  cancelled: number;
  paid: number;
  /** Cancelled orders a payment webhook came for afterwards (refused: `order_cancelled`). */
  paidAfterCancel: number;
  gaveUp: string[];
  attempts: number;
  retriesByReason: Partial<Record<RetryReason, number>>;
  requestsDropped: number;
  answersDropped: number;
  replayedAnswers: number;
  faults: string[];
  rowsInDatabase: number;
  duplicates: number;
  /**
   * Logical orders whose row is missing, differs from what was sent, has another id than the client
   * got, or another status than its cancel or payment left.
   */
  mismatches: string[];
  events?: EventsVerdict;
  consumers?: ConsumersVerdict;
  /** Orders answered 201 (or replayed) whose row the database does not have. */
  lostAcknowledged: number;
  /** Error answers whose body was not the error envelope (retried or final). */
  outsideEnvelope: number;
  /** When each create was answered with its order (ms since the epoch), in order. */
  acknowledgedAt: number[];
  p50Ms: number;
  p99Ms: number;
  elapsedMs: number;
}

const INSTANCES = 3;

/** A run's own JWT secret and payment provider's webhook secret (Standard Webhooks' whsec_ form). */
export function chaosSecrets(): { jwtSecret: string; webhookSecret: string } {
  return {
    jwtSecret: randomBytes(32).toString('hex'),
    webhookSecret: `whsec_${randomBytes(24).toString('base64')}`,
  };
}

/**
 * Places `logicalOrders` orders through `OrdersClient` (with no retry code of its own) across three
 * instances of the production build, each behind a lossy network, cancels every fifth and pays every
 * third of the rest by signed webhook (retried like a provider does), while Redis is cut and flushed,
 * Postgres is cut and delayed, and instances are SIGKILLed and SIGTERMed and restarted; with events
 * on, the stream's leader node is killed and restarted, NATS is cut for 5 s, and the instance that
 * relays is the one SIGKILLed and whose Postgres is cut. Faults fire at fixed shares of progress, so
 * each run sees all of them whatever the machine's speed. Then reads the database itself (and the
 * stream) to count what was made.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const held: (() => Promise<unknown>)[] = [];
  try {
    return await runChaosHolding(options, held);
  } catch (error) {
    // A run that fails half-way (a fault that could not be injected, a consumer that would not
    // start) stops what it started, newest first, instead of leaving instances running after Jest.
    for (const stop of held.reverse()) await stop().catch(() => undefined);
    throw error;
  }
}

/** runChaos, pushing onto `held` how to stop each thing it starts (its normal end stops them). */
async function runChaosHolding(
  options: ChaosOptions,
  held: (() => Promise<unknown>)[],
): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const run = `chaos-${options.seed}-${Date.now()}`;
  const random = seededRandom(options.seed);
  const redis = createClient({ url: options.redisUrl });
  // Its server is cut and flushed by the run; the client reconnects, and an error is no crash.
  redis.on('error', () => undefined);
  await redis.connect();
  held.push(() => redis.quit());
  await redis.flushDb();
  // A pool, not one client: a database failover (test:ha) ends its connections, and the pool opens
  // new ones to whichever node is primary then; an idle connection's loss is no crash.
  const db = new pg.Pool({ connectionString: options.databaseUrl, max: 2 });
  db.on('error', () => undefined);
  await db.query('SELECT 1');
  held.push(() => db.end());
  const redisProxy = await TcpProxy.start(options.redisUrl);
  held.push(() => redisProxy.close());
  const postgres = await Promise.all(
    Array.from({ length: INSTANCES }, () =>
      TcpProxy.start(options.databaseUrl),
    ),
  );
  held.push(() => Promise.all(postgres.map((p) => p.close())));
  const { events } = options;
  // The instances reach NATS through proxies the run can cut (the nodes advertise no other address).
  const natsProxies = events
    ? await Promise.all(events.cluster.nodes.map((n) => TcpProxy.start(n.url)))
    : [];
  held.push(() => Promise.all(natsProxies.map((p) => p.close())));
  const nats = events
    ? await connectNats({ servers: events.cluster.urls.split(',') })
    : undefined;
  held.push(async () => nats?.close());
  const envOf = (i: number, migrate = false): Record<string, string> => ({
    DATABASE_URL: postgres[i].urlFor(options.databaseUrl),
    REDIS_URL: redisProxy.urlFor(options.redisUrl),
    JWT_SECRET: options.jwtSecret,
    PAYMENT_WEBHOOK_SECRETS: options.webhookSecret,
    DB_MIGRATIONS_RUN: String(migrate),
    DB_CONNECT_TIMEOUT_MS: '1000',
    THROTTLE_LIMIT: '1000000',
    WEBHOOK_THROTTLE_LIMIT: '1000000',
    HEALTH_THROTTLE_LIMIT: '1000000',
    // A killed instance's keys free themselves within 2 s (its retries get 409 until then).
    IDEMPOTENCY_LOCK_LEASE_MS: '2000',
    LOG_LEVEL: 'error',
    ...(events && {
      NATS_URL: natsProxies.map((p) => `nats://127.0.0.1:${p.port}`).join(','),
      EVENTS_STREAM: events.stream,
      EVENTS_STREAM_REPLICAS: String(events.cluster.nodes.length),
    }),
  });
  const apps: AppProcess[] = [await startAppProcess(envOf(0, options.migrate))];
  // The array, not its entries: a restart replaces an instance.
  held.push(() => Promise.all(apps.map((app) => app.stop('SIGKILL'))));
  apps.push(
    ...(await Promise.all([1, 2].map((i) => startAppProcess(envOf(i))))),
  );
  const consumers =
    events && options.consumers
      ? await FulfilmentConsumers.start({
          ...options.consumers,
          cluster: events.cluster,
          stream: events.stream,
          random,
        })
      : undefined;
  held.push(async () => consumers?.abort());
  const proxies = await Promise.all(
    apps.map((app) =>
      LossyHttpProxy.start(Number(new URL(app.url).port), {
        random,
        dropRequests: options.dropRequests,
        dropAnswers: options.dropAnswers,
      }),
    ),
  );
  held.push(() => Promise.all(proxies.map((p) => p.close())));
  const faults: string[] = [];
  const restart = async (i: number, signal: NodeJS.Signals, who: string) => {
    await apps[i].stop(signal);
    apps[i] = await startAppProcess(envOf(i));
    proxies[i].retarget(Number(new URL(apps[i].url).port));
    faults.push(`${who} ${signal}ed and restarted`);
  };
  /** The instance holding the relay's lease (instance 2 when events are off). */
  const relaying = async (): Promise<number> => {
    if (!events) return 1;
    for (let attempt = 0; attempt < 200; attempt++) {
      const { rows } = await db.query<{ holder: string }>(
        "SELECT holder FROM order_events_relay WHERE name = 'relay' AND expires_at > now()",
      );
      const pid = Number(rows[0]?.holder.split(':')[1]);
      const i = apps.findIndex((app) => app.child.pid === pid);
      if (i >= 0) return i;
      await sleep(50);
    }
    throw new Error('no instance took the relay lease within 10 s');
  };
  const relayName = (i: number) =>
    events ? `the relay's instance (${i + 1})` : `instance ${i + 1}`;
  const ownFaults: [number, () => Promise<void>][] = [
    [
      0.1,
      async () => {
        redisProxy.cut();
        await sleep(1500);
        redisProxy.restore();
        faults.push('Redis cut for 1.5 s');
      },
    ],
    [
      0.25,
      async () => {
        await redis.flushDb();
        faults.push('Redis flushed');
      },
    ],
    [
      0.35,
      async () => {
        const i = await relaying();
        postgres[i].cut();
        await sleep(1500);
        postgres[i].restore();
        faults.push(`${relayName(i)}'s Postgres cut for 1.5 s`);
      },
    ],
    [
      0.5,
      async () => {
        for (const proxy of postgres) proxy.delay(100);
        await sleep(1500);
        for (const proxy of postgres) proxy.delay(0);
        faults.push('Postgres delayed 100 ms for 1.5 s');
      },
    ],
    [
      0.6,
      async () => {
        const i = await relaying();
        await restart(i, 'SIGKILL', relayName(i));
      },
    ],
    [0.8, () => restart(2, 'SIGTERM', 'instance 3')],
  ];
  if (events)
    ownFaults.push(
      [
        0.18,
        async () => {
          const jsm = await jetstreamManager(nats!);
          const { cluster } = await jsm.streams.info(events.stream);
          const leader = events.cluster.nodes.find(
            (node) => node.name === cluster?.leader,
          );
          if (!leader) throw new Error(`no stream leader: ${cluster?.leader}`);
          await leader.kill();
          await sleep(2000);
          await leader.start();
          faults.push("the stream's leader node killed, restarted after 2 s");
        },
      ],
      [
        0.42,
        async () => {
          for (const proxy of natsProxies) proxy.cut();
          await sleep(5000);
          for (const proxy of natsProxies) proxy.restore();
          faults.push('NATS cut for 5 s');
        },
      ],
    );
  if (consumers) ownFaults.push(...consumers.schedule(faults));
  const schedule = options.faults
    ? options.faults.map(
        ([share, inject]) =>
          [share, async () => void faults.push(await inject())] as const,
      )
    : ownFaults;
  schedule.sort(([a], [b]) => a - b);

  let resolved = 0;
  let cancelled = 0;
  let paid = 0;
  let paidAfterCancel = 0;
  let attempts = 0;
  let replayedAnswers = 0;
  let outsideEnvelope = 0;
  const acknowledgedAt: number[] = [];
  const retriesByReason: Partial<Record<RetryReason, number>> = {};
  const gaveUp: string[] = [];
  const results = new Map<number, { id: string; ms: number }>();
  const started = Date.now();
  let lastFaultEndedAt = 0;

  const faultsDone = (async () => {
    for (const [share, inject] of schedule) {
      while (resolved + gaveUp.length < share * options.logicalOrders)
        await sleep(20);
      log(`${Math.round(share * 100)}%: injecting`);
      await inject();
    }
    lastFaultEndedAt = Date.now();
  })();
  // Awaited after the workload; until then a fault that fails is held, not an unhandled rejection.
  faultsDone.catch(() => undefined);
  // Every event written before the last fault ended is on the stream soon after it.
  const drainedAfterFaults = events
    ? faultsDone.then(() => waitForDrain(db, new Date(lastFaultEndedAt)))
    : undefined;
  drainedAfterFaults?.catch(() => undefined);

  const client = (c: number) =>
    new OrdersClient({
      baseUrl: proxies[c % INSTANCES].url,
      token: jwt.sign({ sub: `${run}-${c}` }, options.jwtSecret, {
        algorithm: 'HS256',
        expiresIn: 3600,
      }),
      // Each client talks to one instance (no load balancer in front): it waits out that instance's
      // restart, which took over 30 s once with a core hogged beside the other suites.
      maxRetries: 120,
      timeoutMs: 5000,
      maxElapsedMs: 90_000,
      baseDelayMs: 25,
      maxDelayMs: 1000,
      onRetry: ({ reason, code }) => {
        attempts++;
        if (code?.startsWith('HTTP_')) outsideEnvelope++;
        retriesByReason[reason] = (retriesByReason[reason] ?? 0) + 1;
      },
    });
  const webhook = new Webhook(options.webhookSecret);
  /** A provider's delivery: the same webhook-id, re-signed, until some instance answers 2xx. */
  const pay = async (
    n: number,
    orderId: string,
    totalCents: number,
    expected: 'paid' | 'order_cancelled',
  ) => {
    const id = `msg_${run}_${n}`;
    const body = JSON.stringify({
      type: 'payment.succeeded',
      timestamp: new Date().toISOString(),
      data: {
        paymentId: `pay_${run}_${n}`,
        orderId,
        amountCents: totalCents,
        currency: 'USD',
      },
    });
    const deadline = Date.now() + 60_000;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      attempts++;
      const sentAt = new Date();
      const answer = await fetch(
        `${proxies[(n + attempt) % INSTANCES].url}/webhooks/payments`,
        {
          method: 'POST',
          body,
          headers: {
            'content-type': 'application/json',
            'webhook-id': id,
            'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
            'webhook-signature': webhook.sign(id, sentAt, body),
          },
          signal: AbortSignal.timeout(5000),
        },
      )
        .then(async (r) => ({ status: r.status, body: await r.text() }))
        .catch(() => undefined);
      if (answer?.status === 200) {
        const { outcome } = JSON.parse(answer.body) as { outcome: string };
        if (outcome !== expected)
          throw new Error(`webhook outcome ${outcome}, not ${expected}`);
        return;
      }
      // A provider retries every answer but a 2xx; these are the ones a correct delivery can get.
      if (
        answer &&
        answer.status < 500 &&
        ![408, 409, 429].includes(answer.status)
      )
        throw new Error(`webhook answered ${answer.status}: ${answer.body}`);
      await sleep(Math.min(1000, 25 * 2 ** Math.min(attempt, 6)));
    }
    throw new Error('webhook not delivered within 60 s');
  };
  await Promise.all(
    Array.from({ length: options.clients }, async (_, c) => {
      const orders = client(c);
      for (let n = c; n < options.logicalOrders; n += options.clients) {
        const began = Date.now();
        attempts++;
        try {
          const order = await orders.createOrder(logicalOrder(n));
          if (order.replayed) replayedAnswers++;
          results.set(n, { id: order.id, ms: Date.now() - began });
          acknowledgedAt.push(Date.now());
          resolved++;
          if (finalStatus(n) === 'cancelled') {
            attempts++;
            await orders.cancelOrder(order.id);
            cancelled++;
            // Every other cancelled order is paid for anyway: refused, and nothing may ship.
            if (n % 10 === 0) {
              await pay(n, order.id, order.totalCents, 'order_cancelled');
              paidAfterCancel++;
            }
          } else if (finalStatus(n) === 'paid') {
            await pay(n, order.id, order.totalCents, 'paid');
            paid++;
          }
        } catch (error) {
          if (String((error as { code?: unknown }).code).startsWith('HTTP_'))
            outsideEnvelope++;
          gaveUp.push(`order ${n}: ${String(error)}`);
        }
      }
    }),
  );
  const workloadEndedAt = Date.now();
  await faultsDone;
  const elapsedMs = Date.now() - started;

  let verdict: EventsVerdict | undefined;
  let consumersVerdict: ConsumersVerdict | undefined;
  if (events) {
    const afterFaults = await drainedAfterFaults!;
    const drainFrom = Math.max(workloadEndedAt, lastFaultEndedAt);
    const afterWorkload = await waitForDrain(db);
    const drainedMs = Math.max(
      afterFaults - lastFaultEndedAt,
      afterWorkload - drainFrom,
    );
    const streamed = await readStream(nats!, events.stream);
    verdict = eventsVerdict(await readOrders(db, run), streamed, drainedMs);
    if (consumers) {
      const drainedAt = Date.now();
      await consumers.waitForApplied(streamed.length);
      const appliedMs = Date.now() - drainedAt;
      await consumers.stop();
      consumersVerdict = await consumers.verdict(
        await readOrders(db, run),
        streamed,
        appliedMs,
      );
    }
  }

  const rows = await readOrders(db, run);
  const mismatches: string[] = [];
  const byNote = new Map<string, (typeof rows)[number][]>();
  for (const row of rows)
    byNote.set(row.note, [...(byNote.get(row.note) ?? []), row]);
  for (let n = 0; n < options.logicalOrders; n++) {
    const found = byNote.get(`logical-${n}`) ?? [];
    const expected = logicalOrder(n);
    if (found.length !== 1) mismatches.push(`order ${n}: ${found.length} rows`);
    else if (JSON.stringify(found[0].items) !== JSON.stringify(expected.items))
      mismatches.push(`order ${n}: items differ`);
    else if (results.get(n)?.id !== found[0].id)
      mismatches.push(`order ${n}: the client got another id`);
    else if (found[0].status !== finalStatus(n))
      mismatches.push(`order ${n}: ${found[0].status}, not ${finalStatus(n)}`);
  }

  await Promise.all(apps.map((app) => app.stop()));
  await Promise.all(
    [...proxies, ...postgres, ...natsProxies, redisProxy].map((p) => p.close()),
  );
  await nats?.close();
  await db.end();
  await redis.flushDb();
  await redis.quit();

  const times = [...results.values()].map((r) => r.ms).sort((a, b) => a - b);
  const at = (p: number) => times[Math.floor((times.length - 1) * p)] ?? NaN;
  return {
    logicalOrders: options.logicalOrders,
    resolved,
    cancelled,
    paid,
    paidAfterCancel,
    gaveUp,
    attempts,
    retriesByReason,
    requestsDropped: sum(proxies.map((p) => p.requestsDropped)),
    answersDropped: sum(proxies.map((p) => p.answersDropped)),
    replayedAnswers,
    faults,
    rowsInDatabase: rows.length,
    duplicates: rows.length - byNote.size,
    mismatches,
    events: verdict,
    consumers: consumersVerdict,
    lostAcknowledged: lostAcknowledged(results, rows),
    outsideEnvelope,
    acknowledgedAt,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    elapsedMs,
  };
}

/** Of n mod 15, those paid: 5 of 15 (a third of the orders), none a multiple of 5 (those are cancelled). */
const PAID_RESIDUES = new Set([1, 3, 6, 9, 12]);

/** What becomes of logical order n after it is placed: a fifth are cancelled, a third paid by webhook. */
function finalStatus(n: number): 'created' | 'cancelled' | 'paid' {
  if (n % 5 === 0) return 'cancelled';
  return PAID_RESIDUES.has(n % 15) ? 'paid' : 'created';
}

/** Logical order n: its own SKU, quantity and price, and its number in the note. */
function logicalOrder(n: number) {
  return {
    currency: 'USD',
    items: [{ sku: `L-${n}`, quantity: 1 + (n % 5), unitPriceCents: 100 + n }],
    note: `logical-${n}`,
  };
}

export interface OrderRow {
  id: string;
  note: string;
  items: unknown;
  status: string;
  version: number;
}

async function readOrders(db: pg.Pool, run: string): Promise<OrderRow[]> {
  const { rows } = await db.query<OrderRow>(
    `SELECT id, note, items, status, version FROM orders WHERE user_id LIKE $1`,
    [`${run}-%`],
  );
  return rows;
}

function lostAcknowledged(
  results: Map<number, { id: string }>,
  rows: OrderRow[],
): number {
  const stored = new Set(rows.map((row) => row.id));
  return [...results.values()].filter((r) => !stored.has(r.id)).length;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** The report as a short table a person can read. */
function eventsRows(verdict: EventsVerdict): [string, string | number][] {
  return [
    ['events on the stream', verdict.messages],
    [
      'events on the stream twice (by id or order and sequence)',
      verdict.duplicates,
    ],
    ['events for orders not in the database', verdict.orphans],
    [
      'orders whose events are missing, out of order or not their final state',
      verdict.problems.length,
    ],
    [
      'backlog empty after the last fault',
      `${(verdict.drainedMs / 1000).toFixed(1)} s`,
    ],
  ];
}

export function chaosTable(report: ChaosReport): string {
  const retries = Object.entries(report.retriesByReason)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const rows: [string, string | number][] = [
    ['logical orders placed', report.logicalOrders],
    ['resolved with an order', report.resolved],
    [
      'then cancelled / paid by signed webhook',
      `${report.cancelled} / ${report.paid}`,
    ],
    ['cancelled, then paid for anyway (refused)', report.paidAfterCancel],
    ['gave up', report.gaveUp.length],
    ['attempts (HTTP requests sent)', report.attempts],
    ['retries by reason', retries || 'none'],
    ['requests lost before the app', report.requestsDropped],
    ['answers lost after the app', report.answersDropped],
    ['answers that were replays', report.replayedAnswers],
    ['faults injected', report.faults.join('; ')],
    ['orders in the database', report.rowsInDatabase],
    ['acknowledged orders missing from the database', report.lostAcknowledged],
    ['duplicates', report.duplicates],
    ['answers outside the error envelope', report.outsideEnvelope],
    ['mismatches (items, id or status)', report.mismatches.length],
    ...(report.events ? eventsRows(report.events) : []),
    ...(report.consumers ? consumersRows(report.consumers) : []),
    [
      'time per logical order p50 / p99',
      `${report.p50Ms} ms / ${report.p99Ms} ms`,
    ],
    ['wall time', `${(report.elapsedMs / 1000).toFixed(1)} s`],
  ];
  return [
    '| | |',
    '|---|---|',
    ...rows.map(([name, value]) => `| ${name} | ${value} |`),
  ].join('\n');
}
