/**
 * The outbox's parked events: those the stream refused EVENTS_MAX_PUBLISH_ATTEMPTS times (too large
 * for the stream, not permitted), each holding back its order's later events.
 *
 *   npm run events:parked                      # list them, with the reason and what each holds back
 *   npm run events:parked -- --requeue <id>    # try one again (attempts start from zero)
 *   npm run events:parked -- --requeue-all     # try them all again
 *
 * Reads DATABASE_URL from the environment or .env. Requeue once the cause is fixed (a larger
 * EVENTS_STREAM_MAX_MSG_BYTES, the service's NATS permissions): the relay publishes each requeued
 * event, then its order's later ones, in sequence. A problem is one line and exit code 2.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  REQUEUE_PARKED,
  SELECT_PARKED,
} from '../src/events/order-events.sql.ts';

interface ParkedRow {
  id: string;
  order_id: string;
  sequence: number;
  type: string;
  publish_attempts: number;
  last_error: string;
  parked_at: Date;
  held_back: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requeue: { type: 'string', multiple: true },
      'requeue-all': { type: 'boolean', default: false },
      limit: { type: 'string', default: '100' },
    },
  });
  if (existsSync('.env')) process.loadEnvFile('.env');
  const url = process.env.DATABASE_URL;
  if (!url)
    throw new ToolError('DATABASE_URL is not set (environment or .env)');
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 5000,
  });
  await client.connect().catch((error: unknown) => {
    throw new ToolError(`DATABASE_URL does not answer: ${String(error)}`);
  });
  try {
    if (values.requeue || values['requeue-all']) {
      const { rows } = await client.query<{ id: string }>(REQUEUE_PARKED, [
        values['requeue-all'] ? null : values.requeue,
      ]);
      console.log(`requeued ${rows.length} parked event(s)`);
      return;
    }
    const { rows } = await client.query<ParkedRow>(SELECT_PARKED, [
      Number(values.limit),
    ]);
    if (rows.length === 0) return console.log('no parked events');
    for (const row of rows)
      console.log(
        [
          row.parked_at.toISOString(),
          `id ${row.id}`,
          `order ${row.order_id}`,
          `seq ${row.sequence}`,
          row.type,
          `${row.publish_attempts} attempts`,
          `holds back ${row.held_back}`,
          JSON.stringify(row.last_error),
        ].join('  '),
      );
  } finally {
    await client.end();
  }
}

/** A problem the person running the script can fix: said in one line, exit 2. */
class ToolError extends Error {}

main().catch((error: unknown) => {
  console.error(error instanceof ToolError ? error.message : String(error));
  process.exitCode = 2;
});
