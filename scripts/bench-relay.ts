/**
 * npm run bench:relay [-- --events 20000 --batch 20 --rounds 3 --against <ref> --cpu-prof <dir>]
 *
 * What the relay costs per event, alone: no HTTP load, so none of the noise of `bench:events`, where
 * the relay's share is a few points of a creates/s ratio that moves by more between runs. Each turn
 * starts the production build with events on (`--batch` events a round: EVENTS_BATCH_SIZE, 20 being
 * about what a round holds under `bench:events`) on a fresh database and a nats-server of the turn's
 * own, writes `--events` events straight into its outbox (one statement), wakes its relay, and waits
 * until the stream holds them all. It prints, per turn, the events a second and the CPU per event of the app, of Postgres (every
 * postgres process) and of nats-server. With `--against <ref>` that commit, built in a temporary
 * worktree, takes turns with this checkout, round by round, the order alternating. With `--cpu-prof
 * <dir>` each build's instances write their profiles to `<dir>/<build>` (start-up included).
 * A benchmark, not a test: it never fails on timing.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  measuredAppEnv,
  productionNodeFlags,
  startAppProcess,
} from '../test/support/app-process.ts';
import { startNatsServer } from '../test/support/nats-server.ts';
import { createScratchDatabase } from '../test/support/scratch-database.ts';
import { relayWakeSubject } from '../src/events/relay-wake.ts';
import { median } from './support/median.ts';
import { usageDuring } from './support/process-usage.ts';
import { prepareBuild } from './support/worktree-build.ts';

const { values: flags } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
    against: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const events = Number(flags.events);
const adminUrl =
  process.env.BENCH_ADMIN_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
const redisBase = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const redisUrl = `${redisBase.replace(/\/\d*$/, '')}/11`;
const STREAM = 'RELAY';
/** A turn that has not drained in this long says so and ends. */
const TURN_LIMIT_MS = 120_000;

/** The outbox's rows as a create writes them: one order each, its `created` event. */
const WRITE_EVENTS = `INSERT INTO order_events (order_id, user_id, type, sequence, data)
  SELECT gen_random_uuid(), 'bench-user', 'orders.order.created', 1, jsonb_build_object(
    'id', gen_random_uuid(), 'status', 'created', 'currency', 'USD',
    'items', '[{"sku":"ABC-1","quantity":2,"unitPriceCents":1999}]'::jsonb, 'totalCents', 3998,
    'note', 'bench', 'metadata', '{}'::jsonb, 'createdAt', '2026-12-07T18:00:00.000Z',
    'paidAt', NULL, 'userId', 'bench-user')
  FROM generate_series(1, $1)`;

interface Build {
  label: string;
  /** Its dist/main.js; this checkout's when undefined. */
  main?: string;
}

interface Turn {
  perSecond: number;
  /** CPU µs per event by process kind. */
  cpu: Record<string, number>;
}

/** One turn: a fresh database and nats-server, the outbox filled, the build started, drained. */
async function turn(build: Build): Promise<Turn> {
  const nats = await startNatsServer();
  const database = await createScratchDatabase(adminUrl, 'orders_bench_relay');
  const env = {
    ...measuredAppEnv({
      databaseUrl: database.url,
      redisUrl,
      jwtSecret: `bench-${randomUUID()}`,
    }),
    LOG_LEVEL: 'warn',
    EVENTS_STREAM: STREAM,
    EVENTS_BATCH_SIZE: flags.batch,
    // Its timer never wakes it during a turn: the bench does, once, and it drains round after round.
    EVENTS_POLL_MS: '60000',
  };
  const options = {
    nodeFlags: [
      ...productionNodeFlags(),
      ...(flags['cpu-prof']
        ? ['--cpu-prof', '--cpu-prof-dir', join(flags['cpu-prof'], build.label)]
        : []),
    ],
    discardStdout: true,
    main: build.main,
  };
  const db = new pg.Client({ connectionString: database.url });
  const nc = await connect({ servers: nats.url }).catch(async (error) => {
    await database.drop();
    await nats.stop();
    throw error;
  });
  const begun = Date.now();
  try {
    // Started first, so that its start-up is not counted: its relay makes the stream, finds nothing
    // to publish and sleeps for EVENTS_POLL_MS. The events written then are published once the bench
    // wakes it as a commit on another instance would (one core NATS message), round after round.
    const app = await startAppProcess({ ...env, NATS_URL: nats.url }, options);
    const jsm = await jetstreamManager(nc);
    const held = async () =>
      (await jsm.streams.info(STREAM).catch(() => undefined))?.state.messages;
    try {
      while ((await held()) === undefined) {
        if (Date.now() - begun > TURN_LIMIT_MS)
          throw new Error(`${build.label}: the relay made no stream`);
        await sleep(50);
      }
      await db.connect();
      await db.query(WRITE_EVENTS, [events]);
      await db.query('VACUUM ANALYZE order_events');
      await db.query('CHECKPOINT');
      const started = Date.now();
      const [, usage] = await usageDuring(async () => {
        nc.publish(relayWakeSubject(STREAM));
        for (;;) {
          const messages = (await held()) ?? 0;
          if (messages >= events) return;
          if (Date.now() - started > TURN_LIMIT_MS)
            throw new Error(
              `${build.label}: ${messages} of ${events} events in the stream after ${TURN_LIMIT_MS} ms`,
            );
          await sleep(50);
        }
      });
      const seconds = (Date.now() - started) / 1000;
      return {
        perSecond: events / seconds,
        cpu: Object.fromEntries(
          Object.entries(usage).map(([name, u]) => [
            name,
            (u.ms * 1000) / events,
          ]),
        ),
      };
    } finally {
      await app.stop();
    }
  } finally {
    await nc.close();
    await db.end().catch(() => undefined);
    await database.drop();
    await nats.stop();
  }
}

async function main(): Promise<void> {
  const other = flags.against ? prepareBuild(flags.against) : undefined;
  const builds: Build[] = [
    { label: 'now' },
    ...(other
      ? [{ label: other.label, main: `${other.root}/dist/main.js` }]
      : []),
  ];
  const turns = new Map<string, Turn[]>(builds.map((b) => [b.label, []]));
  try {
    for (let round = 1; round <= Number(flags.rounds); round++)
      for (const build of round % 2 === 1 ? builds : [...builds].reverse()) {
        const result = await turn(build);
        turns.get(build.label)!.push(result);
        console.error(
          `round ${round}, ${build.label}: ${Math.round(result.perSecond)} events/s; CPU µs per event: ${Object.entries(
            result.cpu,
          )
            .map(([name, us]) => `${name} ${us.toFixed(1)}`)
            .join(', ')}`,
        );
      }
  } finally {
    other?.remove();
  }
  const kinds = Object.keys(turns.get('now')![0].cpu);
  console.log(
    [
      `${events} events in the outbox, drained in rounds of at most ${flags.batch}; ${flags.rounds} turns per build, medians`,
      '',
      `| build | events/s | ${kinds.map((k) => `${k} CPU µs per event`).join(' | ')} |`,
      `|---|---:|${kinds.map(() => '---:').join('|')}|`,
      ...builds.map((build) => {
        const of = turns.get(build.label)!;
        return `| ${build.label} | ${Math.round(median(of.map((t) => t.perSecond)))} | ${kinds
          .map((k) => median(of.map((t) => t.cpu[k])).toFixed(1))
          .join(' | ')} |`;
      }),
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
