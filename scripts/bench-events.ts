/**
 * npm run bench:events [-- --duration 5 --rounds 4 --burst 60 --connections 32 --cpu-prof <dir>]
 *
 * What order events cost, in one run on one machine. The production build (dist/main.js, with the V8
 * flags of `npm run start:prod`) on a fresh database each time, a nats-server with JetStream of the
 * run's own, autocannon creating orders:
 * 1. creates/s with events off, with the outbox rows written but NATS unreachable (rows), and on:
 *    three instances side by side taking turns of `--duration` s, `--rounds` times, the order
 *    rotating: the ratios of the means;
 * 2. publish lag at half the maximum create rate (with events on), for 2 x `--duration` s: per
 *    event, from its transaction (its `time`, the change's now(), before the commit) to the stream
 *    storing it (the message's stream timestamp, just before the acknowledgement is sent);
 * 3. a `--burst` s burst at the maximum create rate, the backlog (pending events) sampled every
 *    second: its slope by least squares, its largest value, and how long it takes to drain after.
 * A benchmark, not a test: it reports each target as ok or MISS and never fails on timing.
 */
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import autocannon from 'autocannon';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  freePort,
  measuredAppEnv,
  productionNodeFlags,
  startAppProcess,
  type AppProcess,
} from '../test/support/app-process.ts';
import { startNatsServer } from '../test/support/nats-server.ts';
import { createScratchDatabase } from '../test/support/scratch-database.ts';
import { usageDuring } from './support/process-usage.ts';

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '4' },
    burst: { type: 'string', default: '60' },
    connections: { type: 'string', default: '32' },
    // A directory: profile each instance (node --cpu-prof), one file per instance.
    'cpu-prof': { type: 'string' },
  },
});
const duration = Number(flags.duration);
const rounds = Number(flags.rounds);
const burstSeconds = Number(flags.burst);
const connections = Number(flags.connections);
const adminUrl =
  process.env.BENCH_ADMIN_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
const redisBase = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const redisUrl = `${redisBase.replace(/\/\d*$/, '')}/11`;
const STREAM = 'BENCH';
const secret = `bench-${randomUUID()}`;
const token = jwt.sign({ sub: `bench-${randomUUID()}` }, secret, {
  algorithm: 'HS256',
  expiresIn: 3600,
});
const body = JSON.stringify({
  currency: 'USD',
  items: [{ sku: 'ABC-1', quantity: 2, unitPriceCents: 1999 }],
  note: 'bench',
});

interface Instance {
  app: AppProcess;
  db: pg.Client;
  stop(): Promise<void>;
}

/** An instance on a fresh database, with events to `natsUrl` (or off), and a client on its database. */
async function instance(natsUrl?: string): Promise<Instance> {
  const database = await createScratchDatabase(adminUrl, 'orders_bench_events');
  const app = await startAppProcess(
    {
      ...measuredAppEnv({
        databaseUrl: database.url,
        redisUrl,
        jwtSecret: secret,
      }),
      LOG_LEVEL: 'warn',
      ...(natsUrl && { NATS_URL: natsUrl, EVENTS_STREAM: STREAM }),
    },
    {
      nodeFlags: [
        ...productionNodeFlags(),
        ...(flags['cpu-prof']
          ? ['--cpu-prof', '--cpu-prof-dir', flags['cpu-prof']]
          : []),
      ],
      discardStdout: true,
    },
  );
  const db = new pg.Client({ connectionString: database.url });
  await db.connect();
  return {
    app,
    db,
    stop: async () => {
      await app.stop();
      await db.end();
      await database.drop();
    },
  };
}

/** Creates orders for `seconds` as fast as `connections` connections go; requests/s and non-2xx. */
async function creates(
  base: string,
  seconds: number,
): Promise<{ rps: number; non2xx: number; p99: number }> {
  const result = await autocannon({
    url: `${base}/orders`,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        body,
        setupRequest: (request) => ({
          ...request,
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'idempotency-key': randomUUID(),
          },
        }),
      },
    ],
  });
  return {
    rps: result.requests.average,
    non2xx: result.non2xx + result.errors,
    p99: result.latency.p99,
  };
}

/**
 * Creates orders at an even `rate` per second for `seconds` (not autocannon's overallRate, which
 * sends each connection's share at once: bursts of `connections` requests ten times a second).
 */
async function pacedCreates(
  base: string,
  rate: number,
  seconds: number,
): Promise<{ sent: number; failed: number }> {
  const started = Date.now();
  let sent = 0;
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  while (Date.now() - started < seconds * 1000) {
    const due = Math.floor(((Date.now() - started) / 1000) * rate);
    while (sent < due && inFlight.size < 256) {
      sent++;
      const request = fetch(`${base}/orders`, {
        method: 'POST',
        body,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'idempotency-key': randomUUID(),
        },
      })
        .then(async (response) => {
          await response.arrayBuffer();
          if (response.status !== 201) failed++;
        })
        .catch(() => void failed++)
        .finally(() => inFlight.delete(request));
      inFlight.add(request);
    }
    await sleep(1);
  }
  await Promise.all(inFlight);
  return { sent, failed };
}

async function pending(db: pg.Client): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM order_events WHERE published_at IS NULL',
  );
  return rows[0].n;
}

/**
 * Milliseconds from each event's transaction to the stream storing it, for the `count` events the
 * stream received from `since` on, read back in stream order by an ordered consumer.
 */
async function publishLags(
  natsUrl: string,
  since: Date,
  count: number,
): Promise<number[]> {
  const nc = await connect({ servers: natsUrl });
  try {
    const consumer = await jetstream(nc).consumers.get(STREAM, {
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: since.toISOString(),
    });
    const messages = await consumer.consume();
    const timeout = setTimeout(() => void messages.stop(), 60_000);
    const lags: number[] = [];
    try {
      for await (const message of messages) {
        const stored = message.info.timestampNanos / 1e6;
        lags.push(stored - Date.parse(message.json<{ time: string }>().time));
        if (lags.length === count) break;
      }
    } finally {
      clearTimeout(timeout);
    }
    return lags;
  } finally {
    await nc.close();
  }
}

async function drained(db: pg.Client, limitMs = 60_000): Promise<number> {
  const started = Date.now();
  while ((await pending(db)) > 0 && Date.now() - started < limitMs)
    await sleep(20);
  return Date.now() - started;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

/** Least-squares slope of `values` sampled once a second: units per second. */
function slope(values: number[]): number {
  const n = values.length;
  const meanX = (n - 1) / 2;
  const meanY = values.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  values.forEach((y, x) => {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  });
  return den === 0 ? 0 : num / den;
}

const cpuMicros = (u: { ms: number }) => u.ms * 1000;
const calls = (u: { calls: number }) => u.calls;

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const rows: [string, string][] = [];
  const targets: [string, boolean][] = [];
  try {
    // 1. Events off, rows and on: three instances side by side, each on a fresh database, warmed up
    // for 2 s, then taking turns of `--duration` s, `--rounds` times, the order rotating at each
    // round (off rows on, rows on off, on off rows), so that a slow spell of the machine falls on
    // all three instead of on one block. Rows has events on with NATS unreachable (a port nothing
    // listens on): the outbox rows are written and nothing is relayed, which splits the cost
    // between the write and the relay.
    const closedNats = `nats://127.0.0.1:${await freePort()}`;
    const modes = ['off', 'rows', 'on'] as const;
    const rates: Record<(typeof modes)[number], number[]> = {
      off: [],
      rows: [],
      on: [],
    };
    const started = await Promise.allSettled(
      modes.map((mode) =>
        instance({ off: undefined, rows: closedNats, on: nats.url }[mode]),
      ),
    );
    const instances = started.flatMap((s) =>
      s.status === 'fulfilled' ? [s.value] : [],
    );
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(instances.map((it) => it.stop()));
      throw failed.reason;
    }
    try {
      for (const it of instances) await creates(it.app.url, 2);
      for (let round = 1; round <= rounds; round++)
        for (let turn = 0; turn < modes.length; turn++) {
          const index = (round - 1 + turn) % modes.length;
          const [mode, it] = [modes[index], instances[index]];
          const [result, usage] = await usageDuring(() =>
            creates(it.app.url, duration),
          );
          rates[mode].push(result.rps);
          const perCreate = (
            of: (u: { ms: number; calls: number }) => number,
            digits: number,
          ) =>
            Object.entries(usage)
              .map(
                ([name, u]) =>
                  `${name} ${(of(u) / (result.rps * duration)).toFixed(digits)}`,
              )
              .join(', ');
          console.error(
            `round ${round}, events ${mode}: ${Math.round(result.rps)} creates/s (${result.non2xx} not 2xx); per create (all instances): CPU µs ${perCreate(cpuMicros, 0)}; system calls ${perCreate(calls, 1)}`,
          );
        }
    } finally {
      await Promise.all(instances.map((it) => it.stop()));
    }
    const mean = (values: number[]) =>
      values.reduce((a, b) => a + b, 0) / values.length;
    const off = mean(rates.off);
    const on = mean(rates.on);
    rows.push(
      [
        'creates/s, events off (each round)',
        rates.off.map(Math.round).join(', '),
      ],
      [
        'creates/s, outbox rows written, NATS unreachable (each round)',
        rates.rows.map(Math.round).join(', '),
      ],
      [
        'creates/s, events on (each round)',
        rates.on.map(Math.round).join(', '),
      ],
      ['rows only / off (means)', (mean(rates.rows) / off).toFixed(3)],
      ['on / off (means)', (on / off).toFixed(3)],
    );
    targets.push(['creates/s with events on >= 0.85 x off', on / off >= 0.85]);

    // 2 and 3 on one instance with events on.
    const it = await instance(nats.url);
    try {
      await creates(it.app.url, 2);
      await drained(it.db);
      const half = Math.max(1, Math.round(on / 2));
      const { rows: before } = await it.db.query<{ at: Date }>(
        'SELECT now() AS at',
      );
      const paced = await pacedCreates(it.app.url, half, 2 * duration);
      await drained(it.db);
      // One event per create; their rows are gone once published (EVENTS_OUTBOX_RETENTION_SECONDS=0).
      const { rows: written } = await it.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM orders WHERE created_at >= $1',
        [before[0].at],
      );
      const sorted = (
        await publishLags(nats.url, before[0].at, written[0].n)
      ).sort((a, b) => a - b);
      rows.push([
        `publish lag at ${half} creates/s, evenly (${paced.sent} sent, ${paced.failed} failed), ${sorted.length} events: p50 / p99 / max`,
        `${percentile(sorted, 0.5).toFixed(1)} / ${percentile(sorted, 0.99).toFixed(1)} / ${sorted.at(-1)?.toFixed(1)} ms`,
      ]);
      targets.push([
        'publish lag p99 <= 100 ms at half the maximum rate',
        percentile(sorted, 0.99) <= 100,
      ]);
      console.error(`lag: p99 ${percentile(sorted, 0.99).toFixed(1)} ms`);

      const samples: number[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          samples.push(await pending(it.db));
          await sleep(1000);
        }
      })();
      const burst = await creates(it.app.url, burstSeconds);
      sampling = false;
      await sampler;
      const drainMs = await drained(it.db);
      const trend = slope(samples);
      const largest = Math.max(...samples);
      rows.push(
        [
          `burst: ${burstSeconds} s at the maximum rate`,
          `${Math.round(burst.rps)} creates/s (${burst.non2xx} not 2xx)`,
        ],
        [
          'burst: backlog sampled each second: median / largest',
          `${percentile(
            [...samples].sort((a, b) => a - b),
            0.5,
          )} / ${largest} events`,
        ],
        [
          'burst: backlog slope (least squares)',
          `${trend.toFixed(2)} events/s`,
        ],
        ['burst: backlog drained after it ended in', `${drainMs} ms`],
      );
      // Flat: it grows by less than 1% of what is created (so it would take 100 s to fall one second
      // behind), and never holds more than a second of creates.
      targets.push([
        'burst backlog flat: slope < 1% of the create rate, never over 1 s of creates',
        Math.abs(trend) < 0.01 * burst.rps && largest <= burst.rps,
      ]);
    } finally {
      await it.stop();
    }
  } finally {
    await nats.stop();
  }
  console.log('| measure | value |\n|---|---|');
  for (const [name, value] of rows) console.log(`| ${name} | ${value} |`);
  console.log('\n| target | |\n|---|---|');
  for (const [name, ok] of targets)
    console.log(`| ${name} | ${ok ? 'ok' : 'MISS'} |`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
