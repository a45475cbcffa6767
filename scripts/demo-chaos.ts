/**
 * npm run demo:chaos [-- --orders 2000 --clients 40 --seed 7 --drop 0.05]
 * npm run demo:pipeline [-- the same flags]   (demo:chaos -- --consumers 2)
 *
 * The chaos run of test/client-chaos.e2e-spec.ts, for a person to watch: three instances of the
 * production build on a fresh database, a lossy network in front of each, their events relayed to a
 * 3-node JetStream cluster of the demo's own, Redis cut and flushed, Postgres cut and delayed, NATS
 * cut and the stream's leader killed, instances SIGKILLed and SIGTERMed and restarted, while
 * @orders/client places, cancels and (by signed webhook) pays the orders. Prints what was sent, lost,
 * retried, stored and published. With --consumers N (demo:pipeline: 2), N processes of
 * examples/fulfilment apply the stream through @orders/events on a database of their own, losing a
 * tenth of their acknowledgements, SIGKILLed and cut from their Postgres; the table adds what they
 * applied and shipped. Needs Postgres as `npm test` does (DEMO_ADMIN_DATABASE_URL), the
 * redis-server and nats-server binaries: the demo starts a Redis of its own (the run flushes it) unless
 * DEMO_REDIS_URL names one, which it then flushes.
 */
import { parseArgs } from 'node:util';
import { chaosSecrets, chaosTable, runChaos } from '../test/support/chaos.ts';
import { startNatsCluster } from '../test/support/nats-server.ts';
import { startRedisServer } from '../test/support/redis-server.ts';
import { createScratchDatabase } from '../test/support/scratch-database.ts';

const { values: flags } = parseArgs({
  options: {
    orders: { type: 'string', default: '2000' },
    clients: { type: 'string', default: '40' },
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    drop: { type: 'string', default: '0.05' },
    consumers: { type: 'string', default: '0' },
  },
});
const adminUrl =
  process.env.DEMO_ADMIN_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
async function main(): Promise<void> {
  const ownRedis = process.env.DEMO_REDIS_URL
    ? undefined
    : await startRedisServer();
  const redisUrl = process.env.DEMO_REDIS_URL ?? ownRedis!.url;
  const database = await createScratchDatabase(adminUrl, 'orders_demo');
  const fulfilment = await createScratchDatabase(adminUrl, 'fulfilment_demo');
  const cluster = await startNatsCluster(3);
  const processes = Number(flags.consumers);
  try {
    const drop = Number(flags.drop);
    console.error(
      `placing ${flags.orders} orders from ${flags.clients} clients (seed ${flags.seed}); ` +
        `${drop * 100}% of requests and ${drop * 100}% of answers lost in transit`,
    );
    const report = await runChaos({
      databaseUrl: database.url,
      redisUrl,
      ...chaosSecrets(),
      logicalOrders: Number(flags.orders),
      clients: Number(flags.clients),
      seed: Number(flags.seed),
      dropRequests: drop,
      dropAnswers: drop,
      migrate: true,
      events: { cluster, stream: 'ORDERS_DEMO' },
      consumers: processes
        ? { databaseUrl: fulfilment.url, processes, dropAcks: 0.1 }
        : undefined,
      log: (line) => console.error(line),
    });
    console.log(chaosTable(report));
    const events = report.events!;
    const problems = [
      ...report.gaveUp,
      ...report.mismatches,
      ...events.problems,
      ...(report.consumers?.problems ?? []),
    ];
    const consumers = report.consumers;
    if (
      consumers &&
      consumers.missing + consumers.unknown + consumers.deadLettered > 0
    )
      problems.push('the consumers missed, invented or dead-lettered events');
    for (const problem of problems.slice(0, 10))
      console.log(`problem: ${problem}`);
    process.exitCode =
      report.duplicates + events.duplicates + events.orphans === 0 &&
      problems.length === 0
        ? 0
        : 1;
  } finally {
    await cluster.stop();
    await ownRedis?.stop();
    await database.drop();
    await fulfilment.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
