import { OrdersClient, type RetryReason } from '@orders/client';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { createClient } from 'redis';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AppProcess, startAppProcess } from './app-process.ts';
import { LossyHttpProxy } from './lossy-http-proxy.ts';
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
  /** The first instance runs the migrations (a fresh database). */
  migrate?: boolean;
  log?: (line: string) => void;
}

export interface ChaosReport {
  logicalOrders: number;
  resolved: number;
  gaveUp: string[];
  attempts: number;
  retriesByReason: Partial<Record<RetryReason, number>>;
  requestsDropped: number;
  answersDropped: number;
  replayedAnswers: number;
  faults: string[];
  rowsInDatabase: number;
  duplicates: number;
  /** Logical orders whose row is missing, differs from what was sent, or has another id than the client got. */
  mismatches: string[];
  p50Ms: number;
  p99Ms: number;
  elapsedMs: number;
}

const INSTANCES = 3;

/**
 * Places `logicalOrders` orders through `OrdersClient` (with no retry code of its own) across three
 * instances of the production build, each behind a lossy network, while Redis is cut and flushed,
 * one instance's Postgres is cut, Postgres is delayed, and instances are SIGKILLed and SIGTERMed and
 * restarted. Faults fire at fixed shares of progress, so each run sees all of them whatever the
 * machine's speed. Then reads the database itself to count what was made.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const run = `chaos-${options.seed}-${Date.now()}`;
  const random = seededRandom(options.seed);
  const redis = createClient({ url: options.redisUrl });
  await redis.connect();
  await redis.flushDb();
  const redisProxy = await TcpProxy.start(options.redisUrl);
  const postgres = await Promise.all(
    Array.from({ length: INSTANCES }, () =>
      TcpProxy.start(options.databaseUrl),
    ),
  );
  const envOf = (i: number, migrate = false): Record<string, string> => ({
    DATABASE_URL: postgres[i].urlFor(options.databaseUrl),
    REDIS_URL: redisProxy.urlFor(options.redisUrl),
    JWT_SECRET: options.jwtSecret,
    DB_MIGRATIONS_RUN: String(migrate),
    DB_CONNECT_TIMEOUT_MS: '1000',
    THROTTLE_LIMIT: '1000000',
    HEALTH_THROTTLE_LIMIT: '1000000',
    // A killed instance's keys free themselves within 2 s (its retries get 409 until then).
    IDEMPOTENCY_LOCK_LEASE_MS: '2000',
    LOG_LEVEL: 'error',
  });
  const apps: AppProcess[] = [await startAppProcess(envOf(0, options.migrate))];
  apps.push(
    ...(await Promise.all([1, 2].map((i) => startAppProcess(envOf(i))))),
  );
  const proxies = await Promise.all(
    apps.map((app) =>
      LossyHttpProxy.start(Number(new URL(app.url).port), {
        random,
        dropRequests: options.dropRequests,
        dropAnswers: options.dropAnswers,
      }),
    ),
  );
  const faults: string[] = [];
  const restart = async (i: number, signal: NodeJS.Signals) => {
    await apps[i].stop(signal);
    apps[i] = await startAppProcess(envOf(i));
    proxies[i].retarget(Number(new URL(apps[i].url).port));
    faults.push(`instance ${i + 1} ${signal}ed and restarted`);
  };
  const schedule: [number, () => Promise<void>][] = [
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
        postgres[0].cut();
        await sleep(1500);
        postgres[0].restore();
        faults.push("instance 1's Postgres cut for 1.5 s");
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
    [0.6, () => restart(1, 'SIGKILL')],
    [0.8, () => restart(2, 'SIGTERM')],
  ];

  let resolved = 0;
  let attempts = 0;
  let replayedAnswers = 0;
  const retriesByReason: Partial<Record<RetryReason, number>> = {};
  const gaveUp: string[] = [];
  const results = new Map<number, { id: string; ms: number }>();
  const started = Date.now();

  const faultsDone = (async () => {
    for (const [share, inject] of schedule) {
      while (resolved + gaveUp.length < share * options.logicalOrders)
        await sleep(20);
      log(`${Math.round(share * 100)}%: injecting`);
      await inject();
    }
  })();

  const client = (c: number) =>
    new OrdersClient({
      baseUrl: proxies[c % INSTANCES].url,
      token: jwt.sign({ sub: `${run}-${c}` }, options.jwtSecret, {
        algorithm: 'HS256',
        expiresIn: 3600,
      }),
      maxRetries: 30,
      timeoutMs: 5000,
      maxElapsedMs: 60_000,
      baseDelayMs: 25,
      maxDelayMs: 1000,
      onRetry: ({ reason }) => {
        attempts++;
        retriesByReason[reason] = (retriesByReason[reason] ?? 0) + 1;
      },
    });
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
          resolved++;
        } catch (error) {
          gaveUp.push(`order ${n}: ${String(error)}`);
        }
      }
    }),
  );
  await faultsDone;
  const elapsedMs = Date.now() - started;

  const rows = await readRows(options.databaseUrl, run);
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
  }

  await Promise.all(apps.map((app) => app.stop()));
  await Promise.all(
    [...proxies, ...postgres, redisProxy].map((p) => p.close()),
  );
  await redis.flushDb();
  await redis.quit();

  const times = [...results.values()].map((r) => r.ms).sort((a, b) => a - b);
  const at = (p: number) => times[Math.floor((times.length - 1) * p)] ?? NaN;
  return {
    logicalOrders: options.logicalOrders,
    resolved,
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
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    elapsedMs,
  };
}

/** Logical order n: its own SKU, quantity and price, and its number in the note. */
function logicalOrder(n: number) {
  return {
    currency: 'USD',
    items: [{ sku: `L-${n}`, quantity: 1 + (n % 5), unitPriceCents: 100 + n }],
    note: `logical-${n}`,
  };
}

async function readRows(databaseUrl: string, run: string) {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{
      id: string;
      note: string;
      items: unknown;
    }>(`SELECT id, note, items FROM orders WHERE user_id LIKE $1`, [
      `${run}-%`,
    ]);
    return rows;
  } finally {
    await db.end();
  }
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** The report as a short table a person can read. */
export function chaosTable(report: ChaosReport): string {
  const retries = Object.entries(report.retriesByReason)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const rows: [string, string | number][] = [
    ['logical orders placed', report.logicalOrders],
    ['resolved with an order', report.resolved],
    ['gave up', report.gaveUp.length],
    ['attempts (HTTP requests sent)', report.attempts],
    ['retries by reason', retries || 'none'],
    ['requests lost before the app', report.requestsDropped],
    ['answers lost after the app', report.answersDropped],
    ['answers that were replays', report.replayedAnswers],
    ['faults injected', report.faults.join('; ')],
    ['orders in the database', report.rowsInDatabase],
    ['duplicates', report.duplicates],
    ['mismatches (items or id)', report.mismatches.length],
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
