/**
 * npm run bench [-- --duration 10 --connections 32 --scenarios create,replay --json bench.json --svg docs/bench.svg]
 * npm run bench -- --against 8bcee7a [--rounds 2 --duration 6 --scenarios create,replay,read,list]
 *   builds that commit in a temporary worktree and prints, from one run, each path's req/s there and
 *   here, their ratio and the app's CPU per request (the best of the rounds; the two builds run side
 *   by side and take turns scenario by scenario), and the median of each round's two adjacent turns'
 *   ratio, which a slow spell of the machine moves less.
 *
 * Starts the production build (dist/main.js, with the V8 flags of `npm run start:prod`) on a fresh
 * database and a Redis database of its own, drives it with autocannon, and prints one table:
 * requests/s, CPU per request of the process under load, p50, p99, non-2xx, and the app's memory.
 * The ceilings run in the same run on the same machine, so that the ratios compare like with like:
 * `ceiling-nest` (a bare NestJS + Fastify route, scripts/ceiling-app.ts); `ceiling-redis`,
 * `ceiling-read` and `ceiling-list` (the same bare app doing only the I/O that a replay, a read or a
 * list cannot skip); `ceiling-http` (a route inside the app: its global pipeline, no I/O); and
 * `ceiling-db` (raw single-row INSERTs through `pg` at the same concurrency).
 * A benchmark, not a test: it never fails on timing, it reports each target as ok or MISS.
 * `--svg` also draws requests/s per scenario against its ceiling, with each goal marked.
 *
 * Run with Node 24 (npm puts the project's pinned node first on PATH), which strips the types.
 */
import autocannon from 'autocannon';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { createClient } from 'redis';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { median } from './support/median.ts';
import { prepareBuild } from './support/worktree-build.ts';
import { SERVER_PROCESSES, usageDuring } from './support/process-usage.ts';
import {
  freePort,
  productionNodeFlags,
  measuredAppEnv,
  startAppProcess,
  type AppProcess,
} from '../test/support/app-process.ts';
import {
  createScratchDatabase,
  runSql,
} from '../test/support/scratch-database.ts';

const SCENARIOS = [
  'ceiling-nest',
  'ceiling-redis',
  'ceiling-read',
  'ceiling-list',
  'ceiling-http',
  'ceiling-db',
  'create',
  'replay',
  'read',
  'list',
  'conflict',
] as const;
type Scenario = (typeof SCENARIOS)[number];

interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}
interface Result {
  scenario: Scenario;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  statuses: Record<string, number>;
  /** CPU time (user + system) of the process under load, per request served: its own cost. */
  cpuUsPerRequest?: number;
  /**
   * CPU per request of every postgres process and of redis-server while it ran: the app shares the
   * machine's cores with them, so a path that costs them more is slower though the app is not.
   */
  postgresUsPerRequest?: number;
  redisUsPerRequest?: number;
  memory?: Memory;
}
type Ratios = Record<string, number | undefined>;
interface Run {
  by: Partial<Record<Scenario, Result>>;
  ratios: Ratios;
  peakRssMiB: number;
}

/**
 * What the run is compared against: a ratio between two scenarios' requests/s. `ceiling-nest` is the
 * framework's own ceiling (a bare NestJS + Fastify route in a process of its own); `ceiling-http` is
 * a route inside the app, carrying the app's global pipeline, kept as a second line.
 */
const RATIOS: Record<string, [Scenario, Scenario]> = {
  'replay / ceiling-nest': ['replay', 'ceiling-nest'],
  'read / ceiling-nest': ['read', 'ceiling-nest'],
  'list / ceiling-nest': ['list', 'ceiling-nest'],
  'create / ceiling-db': ['create', 'ceiling-db'],
  'ceiling-http / ceiling-nest': ['ceiling-http', 'ceiling-nest'],
  'ceiling-redis / ceiling-nest': ['ceiling-redis', 'ceiling-nest'],
  'replay / ceiling-redis': ['replay', 'ceiling-redis'],
  'ceiling-read / ceiling-nest': ['ceiling-read', 'ceiling-nest'],
  'read / ceiling-read': ['read', 'ceiling-read'],
  'ceiling-list / ceiling-nest': ['ceiling-list', 'ceiling-nest'],
  'list / ceiling-list': ['list', 'ceiling-list'],
};

/** The throughput goals, for the chart: scenario, its ceiling, the goal as a fraction of it. */
const GOALS: [Scenario, Scenario, number][] = [
  ['create', 'ceiling-db', 0.4],
  ['replay', 'ceiling-nest', 0.35],
  ['read', 'ceiling-nest', 0.25],
  ['list', 'ceiling-nest', 0.15],
];

/** The targets, one row each: a name and what must hold (skipped when its scenarios did not run). */
const TARGETS: [string, (run: Run) => boolean | undefined][] = [
  [
    'replay >= 0.35 x ceiling-nest',
    (r) => atLeast(r.ratios['replay / ceiling-nest'], 0.35),
  ],
  [
    'read >= 0.25 x ceiling-nest',
    (r) => atLeast(r.ratios['read / ceiling-nest'], 0.25),
  ],
  [
    'list >= 0.15 x ceiling-nest',
    (r) => atLeast(r.ratios['list / ceiling-nest'], 0.15),
  ],
  [
    'create >= 0.40 x ceiling-db',
    (r) => atLeast(r.ratios['create / ceiling-db'], 0.4),
  ],
  ...(['replay', 'read', 'list', 'create'] as const).map(
    (name): [string, (run: Run) => boolean | undefined] => [
      `${name} p99 <= 5 x p50`,
      ({ by }) => by[name] && by[name].p99 <= 5 * Math.max(by[name].p50, 1),
    ],
  ),
  ...(['create', 'replay', 'read', 'list'] as const).map(
    (name): [string, (run: Run) => boolean | undefined] => [
      `${name}: no non-2xx`,
      ({ by }) => by[name] && by[name].non2xx === 0,
    ],
  ),
  [
    'conflict: only 201 and 409',
    ({ by }) =>
      by.conflict &&
      Object.keys(by.conflict.statuses).every((code) =>
        ['201', '409'].includes(code),
      ),
  ],
  ['app peak RSS <= 256 MiB', (r) => r.peakRssMiB <= 256],
];

function atLeast(
  value: number | undefined,
  floor: number,
): boolean | undefined {
  return value === undefined ? undefined : value >= floor;
}

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    scenarios: { type: 'string', default: SCENARIOS.join(',') },
    json: { type: 'string' },
    svg: { type: 'string' },
    // A directory: profile the app (node --cpu-prof) for the whole run.
    'cpu-prof': { type: 'string' },
    // A commit (any git ref): build it in a temporary worktree and compare it with this checkout in
    // the same run, round after round, the best round of each kept.
    against: { type: 'string' },
    rounds: { type: 'string', default: '2' },
  },
});
const duration = Number(flags.duration);
const connections = Number(flags.connections);
const scenarios = flags.scenarios
  .split(',')
  .map((name) => name.trim()) as Scenario[];
for (const name of scenarios)
  if (!SCENARIOS.includes(name)) throw new Error(`unknown scenario ${name}`);

const adminUrl =
  process.env.BENCH_ADMIN_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
const redisBase = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const redisUrl = `${redisBase.replace(/\/\d*$/, '')}/11`; // a Redis database of its own, flushed first
const secret = `bench-${randomUUID()}`;
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
const postHeaders = (key: string) => ({
  authorization: `Bearer ${token}`,
  'content-type': 'application/json',
  'idempotency-key': key,
});

/**
 * This checkout's scenarios against `ref`'s build, in one run: a table of req/s and the ratio. Both
 * builds run side by side, each on a database and a Redis database of its own, and take turns
 * scenario by scenario (which goes first alternates), so that a slow spell of the machine, which
 * can last half a minute, falls on both rather than on one build's whole block of scenarios.
 */
async function compareAgainst(ref: string): Promise<void> {
  const other = prepareBuild(ref);
  // ceiling-http is a route of the app itself (its global pipeline, no I/O); the others are not.
  const wanted = scenarios.filter(
    (name) => !name.startsWith('ceiling-') || name === 'ceiling-http',
  );
  const best = new Map<string, number>();
  // CPU per request of the app, Postgres and Redis, the lowest of the rounds: steadier than req/s
  // on a shared machine.
  const cpu = new Map<string, number>();
  // Per scenario, now / ref of each round's two turns, run back to back: the machine's speed, which
  // drifts by up to 2x within a run, changes less between two adjacent turns than across the run.
  const paired = new Map<string, number[]>();
  const builds: RunningBuild[] = [];
  try {
    builds.push(await startBuild(other.label, 11, other.root));
    builds.push(await startBuild('now', 12));
    for (let round = 1; round <= Number(flags.rounds); round++) {
      const line: string[] = [];
      for (const [index, name] of wanted.entries()) {
        const turns =
          (round + index) % 2 === 0 ? builds : [...builds].reverse();
        const rps = new Map<string, number>();
        for (const build of turns) {
          await runSql(build.databaseUrl, 'ANALYZE orders');
          const result = await run(
            name,
            build.app.url,
            build.seeded,
            build.databaseUrl,
            build.app.child.pid!,
          );
          const cell = `${build.label}:${name}`;
          best.set(cell, Math.max(best.get(cell) ?? 0, result.rps));
          for (const [part, us] of [
            ['app', result.cpuUsPerRequest],
            ['postgres', result.postgresUsPerRequest],
            ['redis', result.redisUsPerRequest],
          ] as const)
            if (us !== undefined)
              cpu.set(
                `${cell}:${part}`,
                Math.min(cpu.get(`${cell}:${part}`) ?? Infinity, us),
              );
          line.push(`${build.label} ${name} ${Math.round(result.rps)}/s`);
          rps.set(build.label, result.rps);
        }
        paired.set(name, [
          ...(paired.get(name) ?? []),
          rps.get('now')! / rps.get(other.label)!,
        ]);
      }
      console.error(`round ${round}: ${line.join(', ')}`);
    }
  } finally {
    for (const build of builds) await build.stop();
    other.remove();
  }
  const rows = wanted.map((name) => {
    const before = best.get(`${other.label}:${name}`) ?? 0;
    const now = best.get(`now:${name}`) ?? 0;
    const us = (label: string, part: string) =>
      Math.round(cpu.get(`${label}:${name}:${part}`) ?? NaN);
    const cpuColumns = ['app', 'postgres', 'redis']
      .map((part) => `${us(other.label, part)} -> ${us('now', part)}`)
      .join(' | ');
    const pairs = paired.get(name) ?? [];
    return `| ${name} | ${Math.round(before)}/s | ${Math.round(now)}/s | ${(now / before).toFixed(2)} | ${median(pairs).toFixed(2)} (${pairs.map((r) => r.toFixed(2)).join(', ')}) | ${cpuColumns} |`;
  });
  console.log(
    [
      `${connections} connections, ${duration} s x ${flags.rounds} rounds, best round; the builds side by side, taking turns per scenario; ${os.cpus().length} cores`,
      '',
      `| path | ${other.label} | now | now / ${other.label} | median of the rounds' paired turns (each round) | CPU µs per request (the lowest round): app | Postgres | Redis |`,
      '|---|---:|---:|---:|---|---:|---:|---:|',
      ...rows,
    ].join('\n'),
  );
}

interface RunningBuild {
  label: string;
  app: AppProcess;
  seeded: { replayKey: string; orderId: string };
  databaseUrl: string;
  stop: () => Promise<void>;
}

/** One build started and seeded on a fresh database and Redis database `redisDb` (flushed). */
async function startBuild(
  label: string,
  redisDb: number,
  root?: string,
): Promise<RunningBuild> {
  const database = await createScratchDatabase(adminUrl, 'orders_bench');
  const url = `${redisBase.replace(/\/\d*$/, '')}/${redisDb}`;
  const redis = createClient({ url });
  await redis.connect();
  await redis.flushDb();
  const cleanUp = async () => {
    await redis.flushDb();
    await redis.quit();
    await database.drop();
  };
  try {
    const app = await startApp(database.url, root, label, url);
    const seeded = await seed(app.url).catch(async (error: unknown) => {
      await app.stop();
      throw error;
    });
    return {
      label,
      app,
      seeded,
      databaseUrl: database.url,
      stop: async () => {
        await app.stop();
        await cleanUp();
      },
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

async function main(): Promise<void> {
  if (flags.against) return compareAgainst(flags.against);
  const database = await createScratchDatabase(adminUrl, 'orders_bench');
  const databaseUrl = database.url;
  const redis = createClient({ url: redisUrl });
  await redis.connect();
  await redis.flushDb();
  let app: AppProcess | undefined;
  try {
    app = await startApp(databaseUrl);
    const seeded = await seed(app.url);
    const results: Result[] = [];
    for (const name of scenarios) {
      // Fresh statistics before each scenario, as autovacuum would have them within a minute: on a
      // table that just grew from 0 to 20,000 rows, stale statistics would plan a sequential scan.
      await runSql(databaseUrl, 'ANALYZE orders');
      const result = await run(
        name,
        app.url,
        seeded,
        databaseUrl,
        app.child.pid!,
      );
      result.memory = await appMemory(app.adminUrl);
      results.push(result);
      console.error(`${name}: ${Math.round(result.rps)} req/s`);
    }
    report(results, peakRss(app.child.pid!));
  } finally {
    await app?.stop();
    await redis.flushDb();
    await redis.quit();
    await database.drop();
  }
}

/**
 * `root`: another checkout (an `--against` build), started with its own build and its own
 * `start:prod` V8 flags, as it would run in production: a change to those flags shows in the
 * comparison. `label` names the build in `--against` runs: each profiles into a directory of its own.
 */
function startApp(
  databaseUrl: string,
  root?: string,
  label?: string,
  redis = redisUrl,
): Promise<AppProcess> {
  const dir = flags['cpu-prof'];
  const profile = dir
    ? ['--cpu-prof', '--cpu-prof-dir', label ? join(dir, label) : dir]
    : [];
  return startAppProcess(
    {
      ...measuredAppEnv({ databaseUrl, redisUrl: redis, jwtSecret: secret }),
      ...pick(
        process.env,
        /^(DB_POOL_SIZE|DB_PREPARED_STATEMENTS|DB_POOLER|REDIS_COMMAND_TIMEOUT_MS|LOG_LEVEL|NODE_OPTIONS|IDEMPOTENCY_ENCRYPTION_KEYS|IDEMPOTENCY_COMPRESS_RESPONSES)$/,
      ),
    },
    {
      nodeFlags: [...productionNodeFlags(root), ...profile],
      discardStdout: true,
      main: root && join(root, 'dist', 'main.js'),
    },
  );
}

/** One order to replay and read, and a user with a full first page to list. */
async function seed(
  base: string,
): Promise<{ replayKey: string; orderId: string }> {
  const replayKey = randomUUID();
  const created = await post(base, replayKey);
  for (let i = 0; i < 30; i++) await post(base, randomUUID());
  return { replayKey, orderId: created.id };
}

async function post(base: string, key: string): Promise<{ id: string }> {
  const response = await fetch(`${base}/orders`, {
    method: 'POST',
    headers: postHeaders(key),
    body: orderBody,
  });
  if (response.status !== 201)
    throw new Error(
      `seeding failed: ${response.status} ${await response.text()}`,
    );
  return (await response.json()) as { id: string };
}

function run(
  name: Scenario,
  base: string,
  seeded: { replayKey: string; orderId: string },
  databaseUrl: string,
  pid: number,
): Promise<Result> {
  const auth = { authorization: `Bearer ${token}` };
  const cannon = (scenario: Scenario, options: autocannon.Options) =>
    cannonAt(pid, scenario, options);
  switch (name) {
    case 'ceiling-nest':
      return nestCeiling(name, 'ceiling', databaseUrl);
    case 'ceiling-redis':
      return nestCeiling(name, 'ceiling-redis', databaseUrl);
    case 'ceiling-list':
      return nestCeiling(name, `ceiling-list/${user}`, databaseUrl);
    case 'ceiling-read':
      return nestCeiling(name, `ceiling-read/${seeded.orderId}`, databaseUrl);
    case 'ceiling-http':
      return cannon(name, { url: `${base}/health/live` });
    case 'ceiling-db':
      return insertCeiling(databaseUrl);
    case 'create':
      return cannon(
        name,
        postEach(base, () => randomUUID()),
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
      // All connections hammer one key at a time; it changes every 20 ms, so most requests meet it in flight.
      const round = `conflict-${randomUUID()}`;
      return cannon(
        name,
        postEach(base, () => `${round}-${Math.floor(Date.now() / 20)}`),
      );
    }
  }
}

/** A route of the bare NestJS + Fastify app (scripts/ceiling-app.ts), started with the app's V8 flags. */
async function nestCeiling(
  name: Scenario,
  path: string,
  databaseUrl: string,
): Promise<Result> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...productionNodeFlags(),
      '--disable-warning=MODULE_TYPELESS_PACKAGE_JSON',
      'scripts/ceiling-app.ts',
      String(port),
      redisUrl,
      databaseUrl,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}/${path}`;
  try {
    for (
      let i = 0;
      i < 200 &&
      !(await fetch(url).then(
        (r) => r.ok,
        () => false,
      ));
      i++
    )
      await new Promise((resolve) => setTimeout(resolve, 50));
    return await cannonAt(child.pid!, name, { url });
  } finally {
    child.kill('SIGTERM');
  }
}

/** POST /orders with the key `nextKey()` returns for each request. */
function postEach(base: string, nextKey: () => string): autocannon.Options {
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

/** Drives `options` with autocannon; `pid` is the process under load, whose CPU time is read. */
async function cannonAt(
  pid: number,
  name: Scenario,
  options: autocannon.Options,
): Promise<Result> {
  const cpuBefore = cpuSeconds(pid);
  const [result, servers] = await usageDuring(
    () => autocannon({ connections, duration, ...options }),
    SERVER_PROCESSES,
  );
  const cpu = cpuSeconds(pid) - cpuBefore;
  // CPU ms while it ran, as µs per request served.
  const perRequest = (ms: number) =>
    (ms * 1e3) / Math.max(result.requests.total, 1);
  const statuses = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, stats]) => [
      code,
      Number(stats.count ?? 0),
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
    cpuUsPerRequest: perRequest(cpu * 1e3),
    postgresUsPerRequest: perRequest(servers.postgres.ms),
    redisUsPerRequest: perRequest(servers['redis-server'].ms),
  };
}

/** User + system CPU seconds of a process so far (/proc/<pid>/stat, in USER_HZ = 100 ticks/s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name: field 3 (state) is at 0, so utime (14) and stime (15) at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The database's own ceiling: `connections` clients each looping over a single-row INSERT (autocommit). */
async function insertCeiling(databaseUrl: string): Promise<Result> {
  await runSql(
    databaseUrl,
    'CREATE TABLE bench_ceiling (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id text NOT NULL, ' +
      'items jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())',
  );
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      return client;
    }),
  );
  const latencies: number[] = [];
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
  const at = (p: number) => latencies[Math.floor((latencies.length - 1) * p)];
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

/** The app's memory right after a scenario, from its own /metrics on the admin port (MiB). */
async function appMemory(adminBase: string): Promise<Memory> {
  const text = await (await fetch(`${adminBase}/metrics`)).text();
  const read = (name: string) =>
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
function peakRss(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(
    readFileSync(`/proc/${pid}/status`, 'utf8'),
  );
  return match ? Number(match[1]) / 1024 : NaN;
}

function report(results: Result[], peakRssMiB: number): void {
  const by = Object.fromEntries(
    results.map((r) => [r.scenario, r]),
  ) as Run['by'];
  const ratios: Ratios = Object.fromEntries(
    Object.entries(RATIOS).map(([label, [a, b]]) => [
      label,
      by[a] && by[b] ? by[a].rps / by[b].rps : undefined,
    ]),
  );
  const cpu = os.cpus()[0]?.model.trim();
  const machine = `${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const verdicts = TARGETS.map(
    ([name, holds]) => [name, holds({ by, ratios, peakRssMiB })] as const,
  )
    .filter(([, holds]) => holds !== undefined)
    .map(([name, holds]) => `${holds ? 'ok  ' : 'MISS'} ${name}`);
  const lines = [
    `${machine}; ${connections} connections, ${duration} s per scenario`,
    '',
    '| scenario | req/s | CPU µs/req | p50 ms | p99 ms | non-2xx | statuses | RSS after (heap used/total, external) MiB |',
    '|---|---:|---:|---:|---:|---:|---|---|',
    ...results.map(
      (r) =>
        `| ${r.scenario} | ${Math.round(r.rps)} | ${r.cpuUsPerRequest?.toFixed(0) ?? ''} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.non2xx} | ` +
        `${Object.entries(r.statuses)
          .map(([code, n]) => `${code}:${n}`)
          .join(' ')} | ${memoryCell(r.memory)} |`,
    ),
    '',
    ...Object.entries(ratios)
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => `${name} = ${value!.toFixed(2)}`),
    `app peak RSS = ${peakRssMiB.toFixed(0)} MiB`,
    '',
    ...verdicts,
  ];
  console.log(lines.join('\n'));
  if (flags.svg) writeFileSync(flags.svg, chart(results, by, machine));
  if (flags.json)
    writeFileSync(
      flags.json,
      JSON.stringify(
        { machine, connections, duration, results, ratios, peakRssMiB },
        null,
        2,
      ),
    );
}

/**
 * Requests/s per scenario as horizontal bars (ceilings grey), each app scenario with its ratio to its
 * ceiling and a red tick where its goal lies.
 */
function chart(results: Result[], by: Run['by'], machine: string): string {
  const [width, left, right, top, row] = [760, 110, 600, 50, 30];
  const height = top + row * results.length + 40;
  const max = Math.max(...results.map((r) => r.rps), 1) * 1.05;
  const x = (rps: number) => left + ((right - left) * rps) / max;
  const bars = results.map((r, i) => {
    const y = top + i * row;
    const goal = GOALS.find(([name]) => name === r.scenario);
    const ceiling = goal && by[goal[1]];
    const ratio = ceiling
      ? ` = ${(r.rps / ceiling.rps).toFixed(2)} x ${goal[1]} (goal ${goal[2]})`
      : '';
    const goalX = ceiling ? x(ceiling.rps * goal[2]) : 0;
    return [
      `<text x="${left - 8}" y="${y + 17}" font-size="12" text-anchor="end">${r.scenario}</text>`,
      `<rect x="${left}" y="${y + 4}" width="${(x(r.rps) - left).toFixed(1)}" height="18" fill="${r.scenario.startsWith('ceiling') ? '#bbbbbb' : '#4477aa'}"/>`,
      `<text x="${(Math.max(x(r.rps), goalX) + 6).toFixed(1)}" y="${y + 17}" font-size="11">${Math.round(r.rps)}${ratio}</text>`,
      ceiling
        ? `<line x1="${goalX.toFixed(1)}" x2="${goalX.toFixed(1)}" y1="${y + 1}" y2="${y + 25}" stroke="#cc3311" stroke-width="2"/>`
        : '',
    ].join('');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${width / 2}" y="20" font-size="14" text-anchor="middle">Requests/s per scenario; red tick: the goal (a fraction of its ceiling)</text>`,
    `<text x="${width / 2}" y="38" font-size="11" text-anchor="middle">${machine}; ${connections} connections, ${duration} s each</text>`,
    ...bars,
    '</svg>',
    '',
  ].join('\n');
}

function memoryCell(m: Memory | undefined): string {
  if (!m) return '';
  const f = (v: number) => v.toFixed(0);
  return `${f(m.rss)} (${f(m.heapUsed)}/${f(m.heapTotal)}, ${f(m.external)})`;
}

function pick(
  source: NodeJS.ProcessEnv,
  pattern: RegExp,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(source).filter(
      (entry): entry is [string, string] =>
        pattern.test(entry[0]) && entry[1] !== undefined,
    ),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
