import type { PoolClient } from 'pg';

/**
 * At the start of the event's transaction, in one round trip: records the event id (a no-op when it
 * is there already), reads the order's position under a row lock, and when the event is the next
 * one, moves the position to it (undone with the rest if the handler fails).
 */
const CLAIM = `WITH claimed AS (
    INSERT INTO order_events_inbox (consumer, event_id, order_id, sequence, type)
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1),
  position AS (
    SELECT sequence FROM order_events_positions
    WHERE consumer = $1 AND order_id = $3 FOR UPDATE),
  advanced AS (
    INSERT INTO order_events_positions (consumer, order_id, sequence)
    SELECT $1, $3, $4
    WHERE EXISTS (SELECT 1 FROM claimed)
      AND COALESCE((SELECT sequence FROM position), 0) = $4 - 1
    ON CONFLICT (consumer, order_id) DO UPDATE SET sequence = EXCLUDED.sequence
    RETURNING 1)
  SELECT EXISTS (SELECT 1 FROM claimed) AS claimed,
    (SELECT sequence FROM position) AS applied`;

/** Requeue with the gap accepted: the order's position moves up to just before the event, never back. */
const ACCEPT_GAP = `INSERT INTO order_events_positions (consumer, order_id, sequence)
  VALUES ($1, $2, $3)
  ON CONFLICT (consumer, order_id) DO UPDATE SET sequence = EXCLUDED.sequence
  WHERE order_events_positions.sequence < EXCLUDED.sequence`;

const FORGET_EVENT = `DELETE FROM order_events_inbox WHERE consumer = $1 AND event_id = $2`;

const FORGET_FAILURES = `DELETE FROM order_events_failures WHERE consumer = $1 AND event_id = $2`;

const COUNT_FAILURE = `INSERT INTO order_events_failures (consumer, event_id, failures, last_error)
  VALUES ($1, $2, 1, $3)
  ON CONFLICT (consumer, event_id)
  DO UPDATE SET failures = order_events_failures.failures + 1, last_error = EXCLUDED.last_error
  RETURNING failures`;

const DEAD_LETTER = `INSERT INTO order_events_dead_letters
  (consumer, stream_sequence, subject, event_id, order_id, sequence, deliveries, error, payload)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`;

/** What the inbox says of an event, read at the start of its transaction. */
export type Claim =
  /** Its turn: the order's position is moved to it, in this transaction. */
  | { kind: 'apply' }
  /** Applied (or dead-lettered) before: its id is in the inbox. */
  | { kind: 'duplicate' }
  /**
   * A new id at a sequence its order is already past: not applied, and so dead-lettered with the
   * reason (an old redelivery whose inbox row was purged lands here too).
   */
  | { kind: 'behind'; applied: number }
  /** Its predecessor in the order is not applied yet. */
  | { kind: 'early'; applied: number };

export interface EventKey {
  id: string;
  orderId: string;
  sequence: number;
  type: string;
}

export interface DeadLetter {
  streamSequence: number;
  subject: string;
  event?: Partial<EventKey>;
  deliveries: number;
  error: string;
  /** The message's bytes as they arrived, whatever they are. */
  payload: Uint8Array;
}

/** The inbox's statements for one consumer, each on a client its caller checked out. */
export class Inbox {
  constructor(readonly consumer: string) {}

  /** In an open transaction: claims the event and says whether to apply it now (then it is the position). */
  async claim(client: PoolClient, event: EventKey): Promise<Claim> {
    const { rows } = await client.query<{
      claimed: boolean;
      applied: number | null;
    }>(CLAIM, [
      this.consumer,
      event.id,
      event.orderId,
      event.sequence,
      event.type,
    ]);
    const applied = rows[0].applied ?? 0;
    if (!rows[0].claimed) return { kind: 'duplicate' };
    if (event.sequence <= applied) return { kind: 'behind', applied };
    if (event.sequence > applied + 1) return { kind: 'early', applied };
    return { kind: 'apply' };
  }

  /** Requeue, gap accepted: the order's position moves to just before `event` if it is below. */
  async acceptGap(client: PoolClient, event: EventKey): Promise<void> {
    await client.query(ACCEPT_GAP, [
      this.consumer,
      event.orderId,
      event.sequence - 1,
    ]);
  }

  /** Requeue: the event's id leaves the inbox, so that it can be claimed again. */
  async forgetEvent(client: PoolClient, eventId: string): Promise<void> {
    await client.query(FORGET_EVENT, [this.consumer, eventId]);
  }

  /** Counts one more handler failure for the event (outside its rolled-back transaction): the total. */
  async countFailure(
    client: PoolClient,
    eventId: string,
    error: string,
  ): Promise<number> {
    const { rows } = await client.query<{ failures: number }>(COUNT_FAILURE, [
      this.consumer,
      eventId,
      storableText(error),
    ]);
    return rows[0].failures;
  }

  /** Stores the dead letter; in its event's transaction, its failures are forgotten with it. */
  async deadLetter(client: PoolClient, letter: DeadLetter): Promise<void> {
    await client.query(DEAD_LETTER, [
      this.consumer,
      letter.streamSequence,
      storableText(letter.subject),
      letter.event?.id ?? null,
      letter.event?.orderId ?? null,
      letter.event?.sequence ?? null,
      letter.deliveries,
      storableText(letter.error),
      Buffer.from(letter.payload),
    ]);
    if (letter.event?.id) await this.forgetFailures(client, letter.event.id);
  }

  /** After an applied event: its failures (if it had any) no longer matter. */
  async forgetFailures(client: PoolClient, eventId: string): Promise<void> {
    await client.query(FORGET_FAILURES, [this.consumer, eventId]);
  }
}

/** Postgres text holds any character but NUL: an error message quoting a payload may carry one. */
export const storableText = (text: string): string =>
  text.replaceAll('\0', '\\0');
