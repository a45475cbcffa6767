#!/usr/bin/env node
// npm run bench [-- --duration 10 --connections 32 --scenarios create,replay --json bench.json]
//
// Starts the production build (dist/main.js) on a fresh database and its own Redis database, drives it with
// autocannon, and prints one table: requests/s, p50, p99, non-2xx, and the app's peak RSS. Two ceilings run in the
// same process on the same machine: `ceiling-http` (a route with no I/O and no auth) and `ceiling-db` (raw
// single-row INSERTs through `pg` at the same concurrency), so that the ratios compare like with like.
// A benchmark, not a test: it never fails on timing, it reports.
const autocannon = require('autocannon');
const jwt = require('jsonwebtoken');
const { Client } = require('pg');
const { createClient } = require('redis');
const { spawn } = require('node:child_process');
const { randomUUID } = require('node:crypto');
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { parseArgs } = require('node:util');
const os = require('node:os');

const SCENARIOS = [
  'ceiling-http',
  'ceiling-db',
  'create',
  'replay',
  'read',
  'list',
  'conflict',
];
const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    scenarios: { type: 'string', default: SCENARIOS.join(',') },
    json: { type: 'string' },
    port: { type: 'string', default: '3777' },
    'cpu-prof': { type: 'string' }, // a directory: profile the app (node --cpu-prof) for the whole run
  },
});
const duration = Number(flags.duration);
const connections = Number(flags.connections);
const scenarios = flags.scenarios.split(',').map((name) => name.trim());
for (const name of scenarios)
  if (!SCENARIOS.includes(name)) throw new Error(`unknown scenario ${name}`);

const adminUrl =
  process.env.BENCH_ADMIN_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
const redisBase = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const redisUrl = `${redisBase.replace(/\/\d*$/, '')}/11`; // a Redis database of its own, flushed first
const secret = `bench-${randomUUID()}`;
const base = `http://127.0.0.1:${flags.port}`;
const adminPort = String(Number(flags.port) + 1);
const user = `bench-${randomUUID()}`;
const token = jwt.sign({ sub: user }, secret, {
  algorithm: 'HS256',
  expiresIn: 3600,
});
const orderBody = JSON.stringify({
  currency: 'USD',
  items: [{ sku: 'ABC-1', quantity: 2, unitPriceCents: 1999 }],
  note: 'bench',
});
const postHeaders = (key) => ({
  authorization: `Bearer ${token}`,
  'content-type': 'application/json',
  'idempotency-key': key,
});

async function main() {
  const dbName = `orders_bench_${Date.now()}`;
  const databaseUrl = withDatabase(adminUrl, dbName);
  await adminQuery(`CREATE DATABASE "${dbName}"`);
  const redis = createClient({ url: redisUrl });
  await redis.connect();
  await redis.flushDb();
  const app = await startApp(databaseUrl);
  const results = [];
  try {
    const seeded = await seed();
    for (const name of scenarios) {
      // Fresh statistics before each scenario, as autovacuum would have them within a minute: on a table that
      // just grew from 0 to 20,000 rows, stale statistics would plan a sequential scan for the list query.
      await query(databaseUrl, 'ANALYZE orders');
      const result = await run(name, seeded, databaseUrl);
      result.memory = await appMemory();
      results.push(result);
      console.error(`${name}: ${Math.round(result.rps)} req/s`);
    }
    const peakRssMiB = peakRss(app.pid);
    report(results, peakRssMiB);
  } finally {
    app.kill('SIGTERM');
    await new Promise((resolve) => app.once('exit', resolve));
    await redis.flushDb();
    await redis.quit();
    await adminQuery(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  }
}

/** One order to replay and read, and a user with a full first page to list. */
async function seed() {
  const replayKey = randomUUID();
  const created = await post(replayKey);
  for (let i = 0; i < 30; i++) await post(randomUUID());
  return { replayKey, orderId: created.id };
}

async function post(key) {
  const response = await fetch(`${base}/orders`, {
    method: 'POST',
    headers: postHeaders(key),
    body: orderBody,
  });
  if (response.status !== 201)
    throw new Error(
      `seeding failed: ${response.status} ${await response.text()}`,
    );
  return response.json();
}

function run(name, seeded, databaseUrl) {
  const auth = { authorization: `Bearer ${token}` };
  switch (name) {
    case 'ceiling-http':
      return cannon(name, { url: `${base}/health/live` });
    case 'ceiling-db':
      return insertCeiling(databaseUrl);
    case 'create':
      return cannon(
        name,
        postEach(() => randomUUID()),
      );
    case 'replay':
      return cannon(name, {
        url: `${base}/orders`,
        method: 'POST',
        body: orderBody,
        headers: postHeaders(seeded.replayKey),
      });
    case 'read':
      return cannon(name, {
        url: `${base}/orders/${seeded.orderId}`,
        headers: auth,
      });
    case 'list':
      return cannon(name, { url: `${base}/orders?limit=20`, headers: auth });
    case 'conflict': {
      // All connections hammer one key at a time; the key changes every 20 ms, so most requests meet it in flight.
      const round = `conflict-${randomUUID()}`;
      return cannon(
        name,
        postEach(() => `${round}-${Math.floor(Date.now() / 20)}`),
      );
    }
  }
}

/** POST /orders with the key `nextKey()` returns for each request. */
function postEach(nextKey) {
  return {
    url: `${base}/orders`,
    requests: [
      {
        method: 'POST',
        body: orderBody,
        setupRequest: (request) => ({
          ...request,
          headers: postHeaders(nextKey()),
        }),
      },
    ],
  };
}

async function cannon(name, options) {
  const result = await autocannon({ connections, duration, ...options });
  const statuses = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [
      code,
      Number(count),
    ]),
  );
  return {
    scenario: name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    statuses,
  };
}

/** The database's own ceiling: `connections` clients each looping over a single-row INSERT (autocommit). */
async function insertCeiling(databaseUrl) {
  const setup = new Client({ connectionString: databaseUrl });
  await setup.connect();
  await setup.query(
    'CREATE TABLE bench_ceiling (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id text NOT NULL, items jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())',
  );
  await setup.end();
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      return client;
    }),
  );
  const latencies = [];
  const until = Date.now() + duration * 1000;
  await Promise.all(
    clients.map(async (client) => {
      while (Date.now() < until) {
        const started = process.hrtime.bigint();
        await client.query(
          'INSERT INTO bench_ceiling (user_id, items) VALUES ($1, $2)',
          [user, orderBody],
        );
        latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    }),
  );
  await Promise.all(clients.map((client) => client.end()));
  latencies.sort((a, b) => a - b);
  const at = (p) => latencies[Math.floor((latencies.length - 1) * p)];
  return {
    scenario: 'ceiling-db',
    rps: latencies.length / duration,
    p50: at(0.5),
    p99: at(0.99),
    non2xx: 0,
    errors: 0,
    statuses: {},
  };
}

function startApp(databaseUrl) {
  const profile = flags['cpu-prof']
    ? ['--cpu-prof', '--cpu-prof-dir', flags['cpu-prof']]
    : [];
  // The same V8 flags as production: those of `npm run start:prod` (and the Dockerfile).
  const startProd = require('../package.json').scripts['start:prod'];
  const v8Flags = startProd.match(/--[\w-]+=\S+/g) ?? [];
  const child = spawn(
    process.execPath,
    [...v8Flags, ...profile, join(__dirname, '..', 'dist', 'main.js')],
    {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: flags.port,
        ADMIN_PORT: adminPort,
        DATABASE_URL: databaseUrl,
        DB_MIGRATIONS_RUN: 'true',
        REDIS_URL: redisUrl,
        JWT_SECRET: secret,
        // One bench user sends far more than a real one may: lift the cap (the limiter's Redis call still runs).
        THROTTLE_LIMIT: '1000000000',
        ...pick(
          process.env,
          /^(DB_POOL_SIZE|REDIS_COMMAND_TIMEOUT_MS|LOG_LEVEL|NODE_OPTIONS)$/,
        ),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 30000;
    const poll = async () => {
      const live = await fetch(`${base}/health/ready`).catch(() => undefined);
      if (live?.ok) return resolve(child);
      if (Date.now() > deadline || child.exitCode !== null)
        return reject(new Error('the app did not start'));
      setTimeout(poll, 200);
    };
    poll();
  });
}

/** The app's memory right after a scenario, from its own /metrics on the admin port (MiB). */
async function appMemory() {
  const text = await (
    await fetch(`http://127.0.0.1:${adminPort}/metrics`)
  ).text();
  const read = (name) =>
    Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) /
    2 ** 20;
  return {
    rss: read('process_resident_memory_bytes'),
    heapUsed: read('nodejs_heap_size_used_bytes'),
    heapTotal: read('nodejs_heap_size_total_bytes'),
    external: read('nodejs_external_memory_bytes'),
  };
}

/** Peak resident set size of the app over the whole run (Linux: VmHWM). */
function peakRss(pid) {
  const match = /VmHWM:\s+(\d+) kB/.exec(
    readFileSync(`/proc/${pid}/status`, 'utf8'),
  );
  return match ? Number(match[1]) / 1024 : NaN;
}

function report(results, peakRssMiB) {
  const by = Object.fromEntries(results.map((r) => [r.scenario, r]));
  const ratio = (a, b) => (by[a] && by[b] ? by[a].rps / by[b].rps : undefined);
  const ratios = {
    'replay / ceiling-http': ratio('replay', 'ceiling-http'),
    'create / ceiling-db': ratio('create', 'ceiling-db'),
    'read / ceiling-http': ratio('read', 'ceiling-http'),
  };
  const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const lines = [
    `${machine}; ${connections} connections, ${duration} s per scenario`,
    '',
    '| scenario | req/s | p50 ms | p99 ms | non-2xx | statuses | RSS after (heap used/total, external) MiB |',
    '|---|---:|---:|---:|---:|---|---|',
    ...results.map(
      (r) =>
        `| ${r.scenario} | ${Math.round(r.rps)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.non2xx} | ${Object.entries(
          r.statuses,
        )
          .map(([code, n]) => `${code}:${n}`)
          .join(' ')} | ${memoryCell(r.memory)} |`,
    ),
    '',
    ...Object.entries(ratios)
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => `${name} = ${value.toFixed(2)}`),
    `app peak RSS = ${peakRssMiB.toFixed(0)} MiB`,
    '',
    ...targets(by, ratios, peakRssMiB),
  ];
  console.log(lines.join('\n'));
  if (flags.json) {
    writeFileSync(
      flags.json,
      JSON.stringify(
        { machine, connections, duration, results, ratios, peakRssMiB },
        null,
        2,
      ),
    );
  }
}

function memoryCell(m) {
  if (!m) return '';
  const f = (v) => v.toFixed(0);
  return `${f(m.rss)} (${f(m.heapUsed)}/${f(m.heapTotal)}, ${f(m.external)})`;
}

/** The targets of issue #6, checked against this run (reported, never enforced). */
function targets(by, ratios, peakRssMiB) {
  const checks = [
    [
      'replay >= 0.20 x ceiling-http',
      ratios['replay / ceiling-http'],
      (v) => v >= 0.2,
    ],
    [
      'create >= 0.20 x ceiling-db',
      ratios['create / ceiling-db'],
      (v) => v >= 0.2,
    ],
    [
      'read >= 0.15 x ceiling-http',
      ratios['read / ceiling-http'],
      (v) => v >= 0.15,
    ],
    ...['replay', 'create'].map((name) => [
      `${name} p99 <= 5 x p50`,
      by[name],
      (r) => r.p99 <= 5 * Math.max(r.p50, 1),
    ]),
    ...['create', 'replay', 'read', 'list'].map((name) => [
      `${name}: no non-2xx`,
      by[name],
      (r) => r.non2xx === 0,
    ]),
    [
      'conflict: only 201 and 409',
      by.conflict,
      (r) =>
        Object.keys(r.statuses).every(
          (code) => code === '201' || code === '409',
        ),
    ],
    ['app peak RSS <= 256 MiB', peakRssMiB, (v) => v <= 256],
  ];
  return checks
    .filter(([, value]) => value !== undefined)
    .map(([name, value, holds]) => `${holds(value) ? 'ok  ' : 'MISS'} ${name}`);
}

function withDatabase(url, name) {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

function adminQuery(sql) {
  return query(adminUrl, sql);
}

async function query(url, sql) {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function pick(source, pattern) {
  return Object.fromEntries(
    Object.entries(source).filter(([name]) => pattern.test(name)),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
