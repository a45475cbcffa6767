import type { Pool } from 'pg';
import {
  EventApplier,
  readMessage,
  type OrderEventHandler,
} from './event-applier.js';

export interface DeadLetterRow {
  streamSequence: number;
  subject: string;
  eventId: string | null;
  orderId: string | null;
  sequence: number | null;
  deliveries: number;
  error: string;
  /** The message's bytes as they arrived. */
  payload: Buffer;
  deadAt: Date;
}

/** What a requeue did. */
export type RequeueResult =
  | { kind: 'applied' }
  /** Applied after its order's later events, which went ahead when it was dead-lettered in its turn. */
  | { kind: 'applied-late' }
  /** Its predecessor is still not applied: left dead-lettered (requeue it first, or accept the gap). */
  | { kind: 'early'; applied: number }
  /** It is still not an event this consumer accepts, or the handler failed again: left as it was. */
  | { kind: 'refused'; error: string }
  | { kind: 'missing' };

export interface DeadLettersOptions {
  pool: Pool;
  /** The consumer's durable name (the inbox's key). */
  consumer: string;
  handler: OrderEventHandler;
  /** As the consumer's: what a requeued event must still prove. Defaults `/orders` and empty. */
  source?: string;
  subjectPrefix?: string;
}

const SELECT = `SELECT stream_sequence, subject, event_id, order_id, sequence, deliveries, error,
    payload, dead_at
  FROM order_events_dead_letters WHERE consumer = $1`;

/**
 * An operator's tools for a consumer's dead letters: list them, requeue one (it is read again,
 * checked again, and applied in order as if it had just arrived; one dead-lettered in its turn, whose
 * order went on, is applied late), and purge them.
 *
 * @example
 * const letters = new DeadLetters({ pool, consumer: 'fulfilment', handler: fulfil });
 * for (const letter of await letters.list()) console.log(letter.streamSequence, letter.error);
 * await letters.requeue(42);
 */
export class DeadLetters {
  private readonly applier: EventApplier;

  constructor(private readonly options: DeadLettersOptions) {
    this.applier = new EventApplier({
      pool: options.pool,
      consumer: options.consumer,
      handler: options.handler,
      maxDeliveries: 1,
    });
  }

  /** The oldest `limit` dead letters, in stream order. */
  async list(limit = 100): Promise<DeadLetterRow[]> {
    const { rows } = await this.options.pool.query<Record<string, unknown>>(
      `${SELECT} ORDER BY stream_sequence LIMIT $2`,
      [this.options.consumer, limit],
    );
    return rows.map(toRow);
  }

  /**
   * Applies one dead letter now, in one transaction: its dead-letter row and inbox row go, and it
   * is claimed again. Its turn: applied. Its order went past it (it was dead-lettered in its turn):
   * applied late. Its predecessor still missing: left, unless `acceptGap`, which moves the order's
   * position up to it first. A handler failure rolls everything back.
   */
  async requeue(
    streamSequence: number,
    { acceptGap = false } = {},
  ): Promise<RequeueResult> {
    const { rows } = await this.options.pool.query<Record<string, unknown>>(
      `${SELECT} AND stream_sequence = $2`,
      [this.options.consumer, streamSequence],
    );
    if (rows.length === 0) return { kind: 'missing' };
    const letter = toRow(rows[0]);
    const reading = readMessage(new Uint8Array(letter.payload), {
      source: this.options.source ?? '/orders',
      natsSubject: letter.subject,
      subjectPrefix: this.options.subjectPrefix,
    });
    const { event, key } = reading;
    if (!event || !key)
      return { kind: 'refused', error: reading.invalid ?? 'unreadable' };
    let result: RequeueResult = { kind: 'applied' };
    const outcome = await this.applier.transaction(async (client) => {
      await client.query(
        'DELETE FROM order_events_dead_letters WHERE consumer = $1 AND stream_sequence = $2',
        [this.options.consumer, streamSequence],
      );
      await this.applier.inbox.forgetEvent(client, key.id);
      if (acceptGap) await this.applier.inbox.acceptGap(client, key);
      const claim = await this.applier.inbox.claim(client, key);
      if (claim.kind === 'early') {
        result = claim;
        return claim;
      }
      if (claim.kind === 'behind') result = { kind: 'applied-late' };
      try {
        await this.options.handler(event, client);
      } catch (error) {
        return { kind: 'threw' as const, error };
      }
      return { kind: 'applied' as const };
    });
    if (outcome.kind === 'applied') return result;
    if (outcome.kind === 'early') return result;
    const error = 'error' in outcome ? outcome.error : outcome.kind;
    return {
      kind: 'refused',
      error: error instanceof Error ? error.message : String(error),
    };
  }

  /** Deletes the given dead letters (all of this consumer's when none is given): how many went. */
  async purge(streamSequences?: number[]): Promise<number> {
    const { rowCount } = streamSequences
      ? await this.options.pool.query(
          'DELETE FROM order_events_dead_letters WHERE consumer = $1 AND stream_sequence = ANY($2::bigint[])',
          [this.options.consumer, streamSequences],
        )
      : await this.options.pool.query(
          'DELETE FROM order_events_dead_letters WHERE consumer = $1',
          [this.options.consumer],
        );
    return rowCount ?? 0;
  }
}

function toRow(row: Record<string, unknown>): DeadLetterRow {
  return {
    streamSequence: Number(row.stream_sequence),
    subject: row.subject as string,
    eventId: row.event_id as string | null,
    orderId: row.order_id as string | null,
    sequence: row.sequence as number | null,
    deliveries: row.deliveries as number,
    error: row.error as string,
    payload: row.payload as Buffer,
    deadAt: row.dead_at as Date,
  };
}
