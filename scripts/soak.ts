/**
 * npm run bench:soak [-- --minutes 10 --connections 16 --svg docs/soak.svg --vacuum]
 *
 * Minutes of mixed load on one instance of the production build: each connection loops create,
 * replay (the same key again), read, list and cancel. Per minute: requests/s, p99, non-2xx, the
 * app's RSS and the orders table's dead tuples. Prints a table and writes an SVG chart of p99 and
 * RSS per minute.
 *
 * --vacuum runs `VACUUM (ANALYZE)` on the scratch database ten seconds into every minute, while the
 * load runs, standing in for autovacuum on a machine whose Postgres has it off (`SHOW autovacuum`).
 *
 * Run with Node 24 (npm puts the project's pinned node first on PATH), which strips the types.
 */
import autocannon from 'autocannon';
import jwt from 'jsonwebtoken';
import { createClient } from 'redis';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  productionNodeFlags,
  measuredAppEnv,
  startAppProcess,
} from '../test/support/app-process.ts';
import {
  createScratchDatabase,
  runSql,
} from '../test/support/scratch-database.ts';
import pg from 'pg';

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    svg: { type: 'string', default: 'docs/soak.svg' },
    vacuum: { type: 'boolean', default: false },
  },
});
const adminUrl =
  process.env.BENCH_ADMIN_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/11';
const secret = randomBytes(32).toString('hex');
const ORDER = JSON.stringify({
  currency: 'USD',
  items: [{ sku: 'ABC-1', quantity: 2, unitPriceCents: 1999 }],
  note: 'soak',
});

interface Minute {
  minute: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  rssMiB: number;
  deadTuples: number;
}

type Context = { key?: string; id?: string };

async function main(): Promise<void> {
  const database = await createScratchDatabase(adminUrl, 'orders_soak');
  const redis = createClient({ url: redisUrl });
  await redis.connect();
  await redis.flushDb();
  const app = await startAppProcess(
    measuredAppEnv({
      databaseUrl: database.url,
      redisUrl,
      jwtSecret: secret,
    }),
    { nodeFlags: productionNodeFlags(), discardStdout: true },
  );
  const auth = {
    authorization: `Bearer ${jwt.sign({ sub: 'soak-user' }, secret, { algorithm: 'HS256', expiresIn: 7200 })}`,
  };
  const minutes: Minute[] = [];
  try {
    for (let minute = 1; minute <= Number(flags.minutes); minute++) {
      const vacuum = flags.vacuum
        ? new Promise((resolve) => setTimeout(resolve, 10_000)).then(() =>
            runSql(database.url, 'VACUUM (ANALYZE)'),
          )
        : Promise.resolve();
      const result = await autocannon({
        url: app.url,
        connections: Number(flags.connections),
        duration: 60,
        requests: [
          {
            method: 'POST',
            path: '/orders',
            body: ORDER,
            setupRequest: (request, context: Context) => {
              context.key = randomUUID();
              return {
                ...request,
                headers: {
                  ...auth,
                  'content-type': 'application/json',
                  'idempotency-key': context.key,
                },
              };
            },
            onResponse: (status, body, context: Context) => {
              if (status === 201)
                context.id = (JSON.parse(body) as { id: string }).id;
            },
          },
          {
            method: 'POST',
            path: '/orders',
            body: ORDER,
            setupRequest: (request, context: Context) => ({
              ...request,
              headers: {
                ...auth,
                'content-type': 'application/json',
                'idempotency-key': context.key!,
              },
            }),
          },
          {
            method: 'GET',
            setupRequest: (request, context: Context) => ({
              ...request,
              path: `/orders/${context.id}`,
              headers: auth,
            }),
          },
          { method: 'GET', path: '/orders?limit=20', headers: auth },
          {
            method: 'DELETE',
            setupRequest: (request, context: Context) => ({
              ...request,
              path: `/orders/${context.id}`,
              headers: auth,
            }),
          },
        ],
      });
      await vacuum;
      const rss = /VmRSS:\s+(\d+) kB/.exec(
        readFileSync(`/proc/${app.child.pid}/status`, 'utf8'),
      );
      minutes.push({
        minute,
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        non2xx: result.non2xx,
        rssMiB: rss ? Number(rss[1]) / 1024 : NaN,
        deadTuples: await deadTuples(database.url),
      });
      console.error(
        `minute ${minute}: ${Math.round(result.requests.average)} req/s, p99 ${result.latency.p99} ms, ` +
          `${minutes.at(-1)!.deadTuples} dead tuples in orders`,
      );
    }
  } finally {
    await app.stop();
    await redis.flushDb();
    await redis.quit();
    await database.drop();
  }
  console.log(
    `${flags.vacuum ? 'with' : 'without'} VACUUM (ANALYZE) each minute\n`,
  );
  console.log(
    '| minute | req/s | p50 ms | p99 ms | non-2xx | RSS MiB | dead tuples |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  for (const m of minutes)
    console.log(
      `| ${m.minute} | ${Math.round(m.rps)} | ${m.p50} | ${m.p99} | ${m.non2xx} | ${m.rssMiB.toFixed(0)} | ${m.deadTuples} |`,
    );
  const first = minutes[0];
  const last = minutes.at(-1)!;
  console.log(
    `\nRSS minute 1 -> ${last.minute}: ${first.rssMiB.toFixed(0)} -> ${last.rssMiB.toFixed(0)} MiB ` +
      `(${(((last.rssMiB - first.rssMiB) / first.rssMiB) * 100).toFixed(1)}%); non-2xx in all: ${minutes.reduce((n, m) => n + m.non2xx, 0)}`,
  );
  writeFileSync(flags.svg, chart(minutes));
}

async function deadTuples(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      "SELECT n_dead_tup AS n FROM pg_stat_user_tables WHERE relname = 'orders'",
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

/** p99 (left axis) and RSS (right axis) per minute, as two SVG polylines. */
function chart(minutes: Minute[]): string {
  const [width, height, left, right, top, bottom] = [
    640, 300, 50, 590, 40, 250,
  ];
  const x = (i: number) =>
    left + ((right - left) * i) / Math.max(minutes.length - 1, 1);
  const maxP99 = Math.max(...minutes.map((m) => m.p99), 1) * 1.2;
  const maxRss = Math.max(...minutes.map((m) => m.rssMiB), 1) * 1.2;
  const line = (values: number[], max: number) =>
    values
      .map(
        (v, i) =>
          `${x(i).toFixed(1)},${(bottom - ((bottom - top) * v) / max).toFixed(1)}`,
      )
      .join(' ');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${width / 2}" y="20" font-size="14" text-anchor="middle">Soak: p99 (ms) and RSS (MiB) per minute</text>`,
    `<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="black"/>`,
    `<polyline fill="none" stroke="#4477aa" stroke-width="2" points="${line(
      minutes.map((m) => m.p99),
      maxP99,
    )}"/>`,
    `<polyline fill="none" stroke="#ee6677" stroke-width="2" points="${line(
      minutes.map((m) => m.rssMiB),
      maxRss,
    )}"/>`,
    ...minutes.map(
      (m, i) =>
        `<text x="${x(i)}" y="${bottom + 16}" font-size="11" text-anchor="middle">${m.minute}</text>` +
        `<text x="${x(i)}" y="${(bottom - ((bottom - top) * m.p99) / maxP99 - 6).toFixed(1)}" font-size="10" text-anchor="middle" fill="#4477aa">${m.p99}</text>` +
        `<text x="${x(i)}" y="${(bottom - ((bottom - top) * m.rssMiB) / maxRss - 6).toFixed(1)}" font-size="10" text-anchor="middle" fill="#ee6677">${m.rssMiB.toFixed(0)}</text>`,
    ),
    `<text x="${left}" y="${height - 12}" font-size="12">minute</text>`,
    `<text x="${right - 150}" y="${top - 6}" font-size="12" fill="#4477aa">p99 ms</text>`,
    `<text x="${right - 80}" y="${top - 6}" font-size="12" fill="#ee6677">RSS MiB</text>`,
    '</svg>',
    '',
  ].join('\n');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
