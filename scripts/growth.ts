/**
 * npm run bench:growth [-- --sizes 0,1000000,5000000 --duration 5 --svg docs/growth.svg]
 *
 * How the costs grow with the data: create and read p50/p99 with the orders table at each size
 * (seeded in one INSERT ... SELECT generate_series, not through the API), and for one heavy user with
 * 100,000 orders, the first page against a page reached by a cursor 90,000 rows deep (HTTP time and
 * EXPLAIN (ANALYZE, BUFFERS)). Prints a table and writes an SVG chart of p99 per size.
 *
 * Run with Node 24 (npm puts the project's pinned node first on PATH), which strips the types.
 */
import autocannon from 'autocannon';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { createClient } from 'redis';
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { purgeBatchSql } from '../src/database/key-purge.ts';
import { ORDERS_KEYED_TABLE } from '../src/orders/orders.sql.ts';
import {
  productionNodeFlags,
  measuredAppEnv,
  startAppProcess,
} from '../test/support/app-process.ts';
import { createScratchDatabase } from '../test/support/scratch-database.ts';

const { values: flags } = parseArgs({
  options: {
    sizes: { type: 'string', default: '0,1000000,5000000' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '16' },
    heavy: { type: 'string', default: '100000' },
    svg: { type: 'string', default: 'docs/growth.svg' },
  },
});
const sizes = flags.sizes.split(',').map(Number);
const duration = Number(flags.duration);
const connections = Number(flags.connections);
const heavyOrders = Number(flags.heavy);
const adminUrl =
  process.env.BENCH_ADMIN_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/11';
const secret = randomBytes(32).toString('hex');
const ORDER = JSON.stringify({
  currency: 'USD',
  items: [{ sku: 'ABC-1', quantity: 2, unitPriceCents: 1999 }],
  note: 'growth',
});
const tokenFor = (user: string) =>
  jwt.sign({ sub: user }, secret, { algorithm: 'HS256', expiresIn: 3600 });

/**
 * $1 orders (tagged $2) for the user `userExpr` names, spread over the last 30 days, each with a key
 * and a fingerprint (as within the retention window).
 */
const seedSql = (
  userExpr: string,
) => `INSERT INTO orders (user_id, idempotency_key, request_fingerprint,
    status, currency, items, total_cents, note, created_at)
  SELECT ${userExpr}, 'seed-' || $2::text || '-' || i, md5(i::text) || md5((i + 1)::text), 'created', 'USD',
    '[{"sku":"ABC-1","quantity":2,"unitPriceCents":1999}]'::jsonb, 3998, 'seeded',
    now() - (random() * interval '30 days')
  FROM generate_series(1, $1::int) AS i`;
/** Orders of 100,000 users. */
const SEED_MANY = seedSql(`'growth-user-' || (i % 100000)`);
/** Orders of one user ($3). */
const SEED_ONE = seedSql('$3::text');

interface Row {
  size: number;
  createP50: number;
  createP99: number;
  createRps: number;
  readP50: number;
  readP99: number;
  readRps: number;
}

async function main(): Promise<void> {
  const database = await createScratchDatabase(adminUrl, 'orders_growth');
  const databaseUrl = database.url;
  const redis = createClient({ url: redisUrl });
  await redis.connect();
  await redis.flushDb();
  const app = await startAppProcess(
    measuredAppEnv({ databaseUrl, redisUrl, jwtSecret: secret }),
    { nodeFlags: productionNodeFlags(), discardStdout: true },
  );
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const rows: Row[] = [];
    let seeded = 0;
    for (const size of sizes) {
      if (size > seeded) {
        const started = Date.now();
        await db.query(SEED_MANY, [size - seeded, `many-${seeded}`]);
        await db.query('VACUUM ANALYZE orders');
        console.error(
          `seeded ${size - seeded} orders in ${((Date.now() - started) / 1000).toFixed(1)} s`,
        );
        seeded = size;
      }
      rows.push(await measure(app.url, size));
      console.error(`size ${size}: done`);
    }
    console.log(
      '| orders in the table | create req/s | create p50 / p99 ms | read req/s | read p50 / p99 ms |',
    );
    console.log('|---:|---:|---:|---:|---:|');
    for (const r of rows)
      console.log(
        `| ${r.size.toLocaleString('en')} | ${Math.round(r.createRps)} | ${r.createP50} / ${r.createP99} | ` +
          `${Math.round(r.readRps)} | ${r.readP50} / ${r.readP99} |`,
      );
    const first = rows[0];
    const last = rows.at(-1)!;
    console.log(
      `\np99 growth from ${first.size.toLocaleString('en')} to ${last.size.toLocaleString('en')} orders: ` +
        `create x${(last.createP99 / Math.max(first.createP99, 1)).toFixed(2)}, read x${(last.readP99 / Math.max(first.readP99, 1)).toFixed(2)}`,
    );
    console.log(await deepPagination(app.url, db));
    console.log(await purgeUnderLoad(app.url, databaseUrl, rows.at(-1)!));
    writeFileSync(flags.svg, chart(rows));
    console.error(`chart written to ${flags.svg}`);
  } finally {
    await db.end();
    await app.stop();
    await redis.flushDb();
    await redis.quit();
    await database.drop();
  }
}

/** Create and read at this size: a user of the measurement's own, one order to read. */
async function measure(base: string, size: number): Promise<Row> {
  const user = `growth-measure-${size}`;
  const auth = { authorization: `Bearer ${tokenFor(user)}` };
  const seed = await fetch(`${base}/orders`, {
    method: 'POST',
    headers: {
      ...auth,
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
    },
    body: ORDER,
  });
  const { id } = (await seed.json()) as { id: string };
  const create = await autocannon({
    url: `${base}/orders`,
    connections,
    duration,
    requests: [
      {
        method: 'POST',
        body: ORDER,
        setupRequest: (request) => ({
          ...request,
          headers: {
            ...auth,
            'content-type': 'application/json',
            'idempotency-key': randomUUID(),
          },
        }),
      },
    ],
  });
  const read = await autocannon({
    url: `${base}/orders/${id}`,
    connections,
    duration,
    headers: auth,
  });
  return {
    size,
    createP50: create.latency.p50,
    createP99: create.latency.p99,
    createRps: create.requests.average,
    readP50: read.latency.p50,
    readP99: read.latency.p99,
    readRps: read.requests.average,
  };
}

/**
 * The key purge on the seeded table (most keys are past the 48 h retention: rows are spread over
 * 30 days), run as the app runs it (batches of 1,000, each a transaction under the advisory lock),
 * while creates go on: keys cleared per second, and the create p99 against the idle one.
 */
async function purgeUnderLoad(
  base: string,
  databaseUrl: string,
  idle: Row,
): Promise<string> {
  const purger = new pg.Client({ connectionString: databaseUrl });
  await purger.connect();
  const batch = purgeBatchSql(ORDERS_KEYED_TABLE);
  let cleared = 0;
  let purging = true;
  const started = Date.now();
  const loop = (async () => {
    while (purging) {
      await purger.query('BEGIN');
      await purger.query('SELECT pg_try_advisory_xact_lock($1)', [
        ORDERS_KEYED_TABLE.lockId,
      ]);
      const result = await purger.query(batch, [172_800, 1000]);
      await purger.query('COMMIT');
      cleared += result.rowCount ?? 0;
      if ((result.rowCount ?? 0) < 1000) break;
    }
  })();
  const during = await measure(base, -1);
  purging = false;
  await loop;
  const seconds = (Date.now() - started) / 1000;
  await purger.end();
  return [
    `\nKey purge while creating (batches of 1,000, as the app runs it):`,
    `- ${Math.round(cleared / seconds).toLocaleString('en')} keys cleared per second (${cleared.toLocaleString('en')} in ${seconds.toFixed(1)} s)`,
    `- create p99 ${during.createP99} ms during the purge against ${idle.createP99} ms idle (x${(during.createP99 / Math.max(idle.createP99, 1)).toFixed(2)}); read p99 ${during.readP99} ms against ${idle.readP99} ms`,
  ].join('\n');
}

/** One heavy user: the first page against a page 90,000 rows deep, over HTTP and in EXPLAIN. */
async function deepPagination(base: string, db: pg.Client): Promise<string> {
  const heavy = 'growth-heavy';
  await db.query(SEED_ONE, [heavyOrders, 'heavy', heavy]);
  await db.query('VACUUM ANALYZE orders');
  const auth = { authorization: `Bearer ${tokenFor(heavy)}` };
  // Walk to 90,000 rows deep by the API's own cursors.
  let cursor: string | null = null;
  for (let seen = 0; seen < 90_000; seen += 100) {
    const page = (await (
      await fetch(
        `${base}/orders?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        { headers: auth },
      )
    ).json()) as { nextCursor: string | null };
    cursor = page.nextCursor;
  }
  const time = async (path: string) => {
    const result = await autocannon({
      url: `${base}${path}`,
      connections: 4,
      duration: 3,
      headers: auth,
    });
    return `${Math.round(result.requests.average)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`;
  };
  const firstPage = await time('/orders?limit=20');
  const deepPage = await time(
    `/orders?limit=20&cursor=${encodeURIComponent(cursor!)}`,
  );
  const [{ created_at, id }] = (
    await db.query<{ created_at: Date; id: string }>(
      `SELECT created_at, id FROM orders WHERE user_id = $1 ORDER BY created_at DESC, id DESC OFFSET 90000 LIMIT 1`,
      [heavy],
    )
  ).rows;
  const explain = async (sql: string, params: unknown[]) => {
    const { rows } = await db.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, BUFFERS) ${sql}`,
      params,
    );
    const plan = rows.map((row) => row['QUERY PLAN']);
    const buffers =
      plan.find((line) => line.includes('Buffers:'))?.trim() ?? '';
    const time =
      plan.find((line) => line.startsWith('Execution Time'))?.trim() ?? '';
    const scan = plan.find((line) => /Scan/.test(line)) ?? plan[0];
    const node = scan
      .trim()
      .replace(/^->\s*/, '')
      .split('  (')[0];
    return `${node}; ${buffers}; ${time}`;
  };
  const columns =
    'id, status, currency, items, total_cents, note, created_at, paid_at';
  const first = await explain(
    `SELECT ${columns} FROM orders WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 21`,
    [heavy],
  );
  const deep = await explain(
    `SELECT ${columns} FROM orders WHERE user_id = $1 AND (created_at, id) < ($2, $3)
       ORDER BY created_at DESC, id DESC LIMIT 21`,
    [heavy, created_at, id],
  );
  return [
    `\nOne user with ${heavyOrders.toLocaleString('en')} orders (keyset pagination):`,
    `- first page over HTTP: ${firstPage}`,
    `- page 90,000 rows deep over HTTP: ${deepPage}`,
    `- first page EXPLAIN: ${first}`,
    `- deep page EXPLAIN: ${deep}`,
  ].join('\n');
}

/** p99 of create and read per table size, as an SVG bar chart (no charting dependency for 2 series). */
function chart(rows: Row[]): string {
  const width = 640;
  const height = 300;
  const max = Math.max(...rows.flatMap((r) => [r.createP99, r.readP99]), 1);
  const group = (width - 80) / rows.length;
  const bar = group / 3;
  const y = (value: number) => height - 40 - ((height - 80) * value) / max;
  const bars = rows.flatMap((r, i) => {
    const x = 60 + i * group;
    return [
      `<rect x="${x}" y="${y(r.createP99)}" width="${bar}" height="${height - 40 - y(r.createP99)}" fill="#4477aa"/>`,
      `<rect x="${x + bar}" y="${y(r.readP99)}" width="${bar}" height="${height - 40 - y(r.readP99)}" fill="#ee6677"/>`,
      `<text x="${x + bar}" y="${height - 22}" font-size="12" text-anchor="middle">${r.size.toLocaleString('en')}</text>`,
      `<text x="${x + bar / 2}" y="${y(r.createP99) - 4}" font-size="11" text-anchor="middle">${r.createP99}</text>`,
      `<text x="${x + 1.5 * bar}" y="${y(r.readP99) - 4}" font-size="11" text-anchor="middle">${r.readP99}</text>`,
    ];
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" font-size="14" text-anchor="middle">p99 latency (ms) by orders in the table</text>`,
    `<line x1="50" y1="${height - 40}" x2="${width - 10}" y2="${height - 40}" stroke="black"/>`,
    ...bars,
    `<rect x="${width - 170}" y="32" width="12" height="12" fill="#4477aa"/><text x="${width - 152}" y="43" font-size="12">create p99</text>`,
    `<rect x="${width - 90}" y="32" width="12" height="12" fill="#ee6677"/><text x="${width - 72}" y="43" font-size="12">read p99</text>`,
    `<text x="${width / 2}" y="${height - 4}" font-size="12" text-anchor="middle">orders in the table</text>`,
    '</svg>',
    '',
  ].join('\n');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
