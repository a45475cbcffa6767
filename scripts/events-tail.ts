/**
 * Prints the order events of the stream as they arrive, one line each (like `stripe listen`), for a
 * developer checking what the service emits:
 *
 *   npm run events:tail              # new events from now on
 *   npm run events:tail -- --all     # every event the stream holds, then new ones
 *   npm run events:tail -- --json    # each event as its full CloudEvent JSON
 *
 * Reads NATS_URL (with NATS_USER/NATS_PASSWORD, NATS_TOKEN or NATS_CREDS_FILE: a consumer's
 * read-only user is enough) and EVENTS_STREAM (default ORDERS) from the environment or .env. An
 * ordered consumer (ephemeral, nothing left on the server) reads the stream; Ctrl-C stops it. Every
 * control character a message holds is printed escaped (\u001b, not an escape sequence for the
 * terminal). A problem is one line and exit code 2.
 */
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  natsConnectOptions,
  NatsSettingError,
  redactUrl,
} from '../events/src/nats-options.ts';
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
  let options: ReturnType<typeof natsConnectOptions>;
  try {
    options = natsConnectOptions(process.env);
  } catch (error) {
    throw new ToolError((error as NatsSettingError).message);
  }
  const { servers } = options;
  if (servers.length === 0)
    throw new ToolError(
      'NATS_URL is empty or unset (environment or .env): events are off',
    );
  const stream = process.env.EVENTS_STREAM?.trim() || 'ORDERS';
  const nc = await connect({ ...options, timeout: 3000 }).catch(
    (error: unknown) => {
      throw new ToolError(
        `NATS at ${servers.map(redactUrl).join(',')} (NATS_URL) does not answer: ${String(error)}`,
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
      console.log(printable(text));
      continue;
    }
    try {
      const event = JSON.parse(text) as PrintedEvent;
      console.log(
        printable(
          [
            event.time,
            String(event.type).padEnd(22),
            `order ${event.subject}`,
            `seq ${event.sequence}`,
            event.data?.status ?? '',
            `user ${event.data?.userId ?? '?'}`,
            `id ${event.id}`,
          ].join('  '),
        ),
      );
    } catch {
      console.log(
        printable(`(not JSON) ${message.subject}: ${text.slice(0, 200)}`),
      );
    }
  }
}

/**
 * `text` with every control character (C0, DEL, C1) and every bidirectional override written as
 * `\uXXXX`: what the stream holds is anyone's text, and an escape sequence in it would otherwise
 * drive the operator's terminal.
 */
function printable(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A problem the person running the script can fix: said in one line, exit 2. */
class ToolError extends Error {}

main().catch((error: unknown) => {
  console.error(error instanceof ToolError ? error.message : String(error));
  process.exitCode = 2;
});
