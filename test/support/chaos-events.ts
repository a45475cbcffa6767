import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import type { OrderRow } from './chaos.ts';

/** One message of the stream, in stream order. */
export interface StreamedEvent {
  subject: string;
  msgId: string | undefined;
  event: {
    id: string;
    type: string;
    subject: string;
    sequence: number;
    data: { status: string };
  };
}

/** The events half of a chaos verdict, from the database and the stream. */
export interface EventsVerdict {
  messages: number;
  /** Messages whose event id, or whose order and sequence, an earlier message already had. */
  duplicates: number;
  /** Messages about an order the database does not hold. */
  orphans: number;
  /** Orders whose events on the stream are not exactly 1..version in order, of the right types, ending in its state. */
  problems: string[];
  /** From the end of the last fault (or of the workload, if later) until nothing was pending. */
  drainedMs: number;
}

const TYPE_OF_STATUS: Record<string, string> = {
  cancelled: 'orders.order.cancelled',
  paid: 'orders.order.paid',
};

/**
 * Resolves with the time at which no event written before `before` (default: any) is pending; gives
 * up after 60 s, which the verdict then shows.
 */
export async function waitForDrain(
  db: pg.Pool,
  before?: Date,
): Promise<number> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    // A query lost to a database failover is asked again.
    const { rows } = await db
      .query<{ n: number }>(
        `SELECT count(*)::int AS n FROM order_events
       WHERE published_at IS NULL AND ($1::timestamptz IS NULL OR created_at < $1)`,
        [before ?? null],
      )
      .catch(() => ({ rows: [{ n: -1 }] }));
    if (rows[0].n === 0) return Date.now();
    await sleep(50);
  }
  return Date.now();
}

/** Every message of `stream`, in stream order, through an ordered consumer. */
export async function readStream(
  nc: NatsConnection,
  stream: string,
): Promise<StreamedEvent[]> {
  const { state } = await (await jetstreamManager(nc)).streams.info(stream);
  const events: StreamedEvent[] = [];
  if (state.messages === 0) return events;
  const consumer = await jetstream(nc).consumers.get(stream);
  const messages = await consumer.consume();
  const timeout = setTimeout(() => messages.stop(), 60_000);
  try {
    for await (const message of messages) {
      events.push({
        subject: message.subject,
        msgId: message.headers?.get('Nats-Msg-Id'),
        event: message.json<StreamedEvent['event']>(),
      });
      if (events.length === state.messages) break;
    }
  } finally {
    clearTimeout(timeout);
    messages.stop();
  }
  return events;
}

/**
 * Each order in the database has on the stream exactly the events 1..version, in that order, the
 * first `created` and the last of the type its status says, carrying that status; no message is
 * there twice, and none is about an order the database does not hold.
 */
export function eventsVerdict(
  orders: OrderRow[],
  streamed: StreamedEvent[],
  drainedMs: number,
): EventsVerdict {
  const ids = new Set<string>();
  const versions = new Set<string>();
  const byOrder = new Map<string, StreamedEvent[]>();
  let duplicates = 0;
  for (const message of streamed) {
    const { event } = message;
    const version = `${event.subject}/${event.sequence}`;
    if (ids.has(event.id) || versions.has(version)) duplicates++;
    ids.add(event.id);
    versions.add(version);
    byOrder.set(event.subject, [
      ...(byOrder.get(event.subject) ?? []),
      message,
    ]);
  }
  const problems: string[] = [];
  for (const order of orders) {
    const events = byOrder.get(order.id) ?? [];
    byOrder.delete(order.id);
    const sequences = events.map((m) => m.event.sequence);
    const expected = Array.from({ length: order.version }, (_, i) => i + 1);
    const last = events.at(-1)?.event;
    if (sequences.join() !== expected.join())
      problems.push(
        `${order.id}: sequences [${sequences.join()}], not [${expected.join()}]`,
      );
    else if (events[0].event.type !== 'orders.order.created')
      problems.push(`${order.id}: first event ${events[0].event.type}`);
    else if (order.version > 1 && last?.type !== TYPE_OF_STATUS[order.status])
      problems.push(
        `${order.id}: last event ${last?.type} for a ${order.status} order`,
      );
    else if (last?.data.status !== order.status)
      problems.push(
        `${order.id}: last event says ${last?.data.status}, the database ${order.status}`,
      );
    else if (
      events.some((m) => m.msgId !== m.event.id || m.subject !== m.event.type)
    )
      problems.push(
        `${order.id}: a message's Nats-Msg-Id or subject is not its event's`,
      );
  }
  const orphans = [...byOrder.values()].reduce((n, e) => n + e.length, 0);
  return {
    messages: streamed.length,
    duplicates,
    orphans,
    problems,
    drainedMs,
  };
}
