/**
 * Prints the order events of the stream as they arrive, one line each (like `stripe listen`), for a
 * developer checking what the service emits:
 *
 *   npm run events:tail              # new events from now on
 *   npm run events:tail -- --all     # every event the stream holds, then new ones
 *   npm run events:tail -- --json    # each event as its full CloudEvent JSON
 *
 * Reads NATS_URL and EVENTS_STREAM (default ORDERS) from the environment or .env. An ordered consumer
 * (ephemeral, nothing left on the server) reads the stream; Ctrl-C stops it. A problem is one line and
 * exit code 2.
 */
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface PrintedEvent {
  id: string;
  type: string;
  subject: string;
  time: string;
  sequence: number;
  data?: { status?: string; userId?: string };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      all: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (existsSync('.env')) process.loadEnvFile('.env');
  const servers = (process.env.NATS_URL ?? '')
    .split(',')
    .map((server) => server.trim())
    .filter(Boolean);
  if (servers.length === 0)
    throw new ToolError(
      'NATS_URL is not set (environment or .env): events are off',
    );
  const stream = process.env.EVENTS_STREAM?.trim() || 'ORDERS';
  const nc = await connect({ servers, timeout: 3000 }).catch(
    (error: unknown) => {
      throw new ToolError(
        `NATS at ${servers.join(',')} does not answer: ${String(error)}`,
      );
    },
  );
  process.once('SIGINT', () => void nc.close());
  const consumer = await jetstream(nc)
    .consumers.get(stream, {
      deliver_policy: values.all ? DeliverPolicy.All : DeliverPolicy.New,
    })
    .catch((error: unknown) => {
      throw new ToolError(`stream ${stream} is not readable: ${String(error)}`);
    });
  console.error(
    `listening on stream ${stream} at ${servers.join(',')} (Ctrl-C stops)`,
  );
  const messages = await consumer.consume();
  for await (const message of messages) {
    const text = message.string();
    if (values.json) {
      console.log(text);
      continue;
    }
    try {
      const event = JSON.parse(text) as PrintedEvent;
      console.log(
        [
          event.time,
          event.type.padEnd(22),
          `order ${event.subject}`,
          `seq ${event.sequence}`,
          event.data?.status ?? '',
          `user ${event.data?.userId ?? '?'}`,
          `id ${event.id}`,
        ].join('  '),
      );
    } catch {
      console.log(`(not JSON) ${message.subject}: ${text.slice(0, 200)}`);
    }
  }
}

/** A problem the person running the script can fix: said in one line, exit 2. */
class ToolError extends Error {}

main().catch((error: unknown) => {
  console.error(error instanceof ToolError ? error.message : String(error));
  process.exitCode = 2;
});
