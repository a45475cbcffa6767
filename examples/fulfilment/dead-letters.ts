/**
 * The fulfilment consumer's dead letters, with @orders/events' DeadLetters: the model for an
 * operator's script in a service of your own (give it your handler and durable name).
 *
 *   npm run events:dead-letters                        # list them: stream sequence, order, reason
 *   npm run events:dead-letters -- --requeue <seq>     # apply one now (in order, or late)
 *   npm run events:dead-letters -- --requeue <seq> --accept-gap
 *                                                       # ... even though its predecessor never came
 *   npm run events:dead-letters -- --purge <seq>       # delete one (--purge-all: every one)
 *
 * Reads FULFILMENT_DATABASE_URL, FULFILMENT_CONSUMER, EVENTS_SOURCE and FULFILMENT_SUBJECT_PREFIX as
 * the example does. Exit code 1 when a requeue is refused (it stays dead-lettered), 2 for a problem.
 */
import { DeadLetters, type DeadLetterRow } from '@orders/events';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { fulfil } from './fulfilment.ts';

const DEFAULT_DATABASE = 'postgres://postgres@127.0.0.1:5432/fulfilment';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requeue: { type: 'string' },
      'accept-gap': { type: 'boolean', default: false },
      purge: { type: 'string', multiple: true },
      'purge-all': { type: 'boolean', default: false },
    },
  });
  if (existsSync('.env')) process.loadEnvFile('.env');
  const env = process.env;
  const pool = new pg.Pool({
    connectionString: env.FULFILMENT_DATABASE_URL ?? DEFAULT_DATABASE,
    max: 1,
    connectionTimeoutMillis: 5000,
  });
  const letters = new DeadLetters({
    pool,
    consumer: env.FULFILMENT_CONSUMER ?? 'fulfilment',
    handler: fulfil,
    source: env.EVENTS_SOURCE || '/orders',
    subjectPrefix: env.FULFILMENT_SUBJECT_PREFIX ?? '',
  });
  try {
    if (values.requeue !== undefined) {
      const result = await letters.requeue(Number(values.requeue), {
        acceptGap: values['accept-gap'],
      });
      console.log(JSON.stringify(result));
      if (!result.kind.startsWith('applied')) process.exitCode = 1;
    } else if (values.purge || values['purge-all']) {
      const purged = await letters.purge(values.purge?.map(Number));
      console.log(`purged ${purged} dead letter(s)`);
    } else {
      const rows = await letters.list();
      if (rows.length === 0) console.log('no dead letters');
      for (const row of rows) console.log(describe(row));
    }
  } finally {
    await pool.end();
  }
}

/** One line per dead letter; the reason and subject JSON-quoted, so no byte of theirs reaches the terminal raw. */
function describe(row: DeadLetterRow): string {
  return [
    row.deadAt.toISOString(),
    `stream seq ${row.streamSequence}`,
    row.orderId ? `order ${row.orderId} seq ${row.sequence}` : 'no order',
    `${row.deliveries} deliveries`,
    JSON.stringify(row.subject),
    JSON.stringify(row.error),
    `${row.payload.length} bytes`,
  ].join('  ');
}

main().catch((error: unknown) => {
  console.error(
    `dead letters: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exitCode = 2;
});
