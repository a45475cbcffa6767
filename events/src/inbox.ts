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

const ADVANCE = `INSERT INTO order_events_positions (consumer, order_id, sequence)
  VALUES ($1, $2, $3)
  ON CONFLICT (consumer, order_id) DO UPDATE SET sequence = EXCLUDED.sequence`;

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
  /** Applied before: its id is in the inbox, or its order is past its sequence. */
  | { kind: 'duplicate' }
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
  payload: string;
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
    if (!rows[0].claimed || event.sequence <= applied)
      return { kind: 'duplicate' };
    if (event.sequence > applied + 1) return { kind: 'early', applied };
    return { kind: 'apply' };
  }

  /** In the event's transaction: the order moves past it (an event dead-lettered out of its turn). */
  async advance(client: PoolClient, event: EventKey): Promise<void> {
    await client.query(ADVANCE, [this.consumer, event.orderId, event.sequence]);
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
      error,
    ]);
    return rows[0].failures;
  }

  /** Stores the dead letter; in its event's transaction, its failures are forgotten with it. */
  async deadLetter(client: PoolClient, letter: DeadLetter): Promise<void> {
    await client.query(DEAD_LETTER, [
      this.consumer,
      letter.streamSequence,
      letter.subject,
      letter.event?.id ?? null,
      letter.event?.orderId ?? null,
      letter.event?.sequence ?? null,
      letter.deliveries,
      letter.error,
      letter.payload,
    ]);
    if (letter.event?.id) await this.forgetFailures(client, letter.event.id);
  }

  /** After an applied event: its failures (if it had any) no longer matter. */
  async forgetFailures(client: PoolClient, eventId: string): Promise<void> {
    await client.query(FORGET_FAILURES, [this.consumer, eventId]);
  }
}
