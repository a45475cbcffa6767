import type { Pool, PoolClient } from 'pg';
import { type EventKey, Inbox } from './inbox.js';
import {
  type EventProvenance,
  InvalidEventError,
  parseOrderEvent,
  type OrderEvent,
} from './order-event.js';
import { isDatabaseLoss, isTransientDatabaseError } from './retry.js';

/** Runs the consumer's effect of one event, inside the transaction that records it in the inbox. */
export type OrderEventHandler = (
  event: OrderEvent,
  tx: PoolClient,
) => Promise<void>;

/** A message as the applier needs it (a JetStream message has all of this). */
export interface DeliveredMessage {
  data: Uint8Array;
  subject: string;
  /** The stream's sequence: a dead letter's key. */
  seq: number;
  redelivered: boolean;
  info: { deliveryCount: number };
}

/** What became of one delivery, and so whether to acknowledge it. */
export type Outcome =
  | { kind: 'applied' | 'duplicate' }
  | { kind: 'dead-lettered'; error: string }
  /** Its order's previous event is not applied yet: `applied` is the order's position. */
  | { kind: 'early'; applied: number }
  /** The handler (or the event's own SQL) failed: counted, to be delivered again. */
  | { kind: 'failed'; failures: number; error: string }
  /** The database could not be reached or failed on its own: nothing counted, try again later. */
  | { kind: 'unavailable'; error: string };

/** Inside the transaction: the event's work failed; its error, to count once it is rolled back. */
interface EventFailed {
  kind: 'threw';
  error: unknown;
}

export interface ApplierOptions {
  pool: Pool;
  consumer: string;
  handler: OrderEventHandler;
  /** Handler failures after which the event is dead-lettered. */
  maxDeliveries: number;
}

/** What a message holds: an event, or why not, with the order and sequence it names if any. */
export interface Reading {
  event?: OrderEvent;
  key?: EventKey;
  invalid?: string;
}

/**
 * Reads a message once: the event, or why it is not one. Only a genuine event of an unknown type
 * keeps a key (its turn in its order); anything else that fails a check names no order.
 */
export function readMessage(
  data: Uint8Array,
  provenance?: EventProvenance,
): Reading {
  try {
    const event = parseOrderEvent(data, provenance);
    const { id, subject: orderId, sequence, type } = event;
    return { event, key: { id, orderId, sequence, type } };
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    const { id, orderId, sequence } = error.known;
    if (!id || !orderId || !sequence) return { invalid: error.message };
    return {
      key: { id, orderId, sequence, type: 'invalid' },
      invalid: error.message,
    };
  }
}

const errorText = (error: unknown) =>
  error instanceof Error ? error.message : String(error);

/**
 * One event, exactly once, in three round trips and the handler's: BEGIN; claim its id in the inbox
 * and move its order's position to it, if it is its turn; the handler; COMMIT. Acknowledging is the
 * caller's part, after this returns.
 */
export class EventApplier {
  readonly inbox: Inbox;

  constructor(private readonly options: ApplierOptions) {
    this.inbox = new Inbox(options.consumer);
  }

  /**
   * Applies what `reading` found in the message. `gapProven`: an early event whose predecessor is
   * proven absent (it waited, and every earlier message of the stream is settled); it is
   * dead-lettered, and its order's position stays where it is, so a forged or corrupt sequence
   * cannot push the order past genuine events.
   */
  async apply(
    message: DeliveredMessage,
    reading: Reading,
    gapProven = false,
  ): Promise<Outcome> {
    const { key, event, invalid } = reading;
    // Nothing to keep in order by: dead-lettered at once, touching no order and no inbox row.
    if (!key) {
      const stored = await this.transaction((client) =>
        this.deadLetter(client, message, undefined, invalid ?? 'unreadable'),
      );
      if (stored.kind !== 'threw') return stored;
      // Left to JetStream's max_deliver backstop, whose advisory the consumer dead-letters.
      const failures = message.info.deliveryCount;
      return { kind: 'failed', failures, error: errorText(stored.error) };
    }
    const outcome = await this.transaction(async (client) => {
      const claim = await this.inbox.claim(client, key);
      if (claim.kind === 'duplicate') return { kind: 'duplicate' };
      if (claim.kind === 'behind') {
        const why = `order ${key.orderId} is already at sequence ${claim.applied}: this event for sequence ${key.sequence} came after it`;
        return this.deadLetter(client, message, key, why);
      }
      if (claim.kind === 'early') {
        if (!gapProven) return claim;
        const missing = `sequence ${claim.applied + 1} of order ${key.orderId} is not on the stream before this event (waited for it)`;
        return this.deadLetter(client, message, key, missing);
      }
      if (invalid !== undefined || !event)
        return this.deadLetter(client, message, key, invalid ?? 'unreadable');
      try {
        await this.options.handler(event, client);
      } catch (error) {
        return { kind: 'threw', error };
      }
      if (message.redelivered) await this.inbox.forgetFailures(client, key.id);
      return { kind: 'applied' };
    });
    if (outcome.kind !== 'threw') return outcome;
    return this.eventFailed(message, key, outcome.error);
  }

  /**
   * The event's work failed and was rolled back. A loss of the database counts nothing; any other
   * failure counts one (outside the event's transaction, so that the count outlives it), and the
   * last one allowed dead-letters the event, in a transaction that claims it again.
   */
  private async eventFailed(
    message: DeliveredMessage,
    key: EventKey,
    error: unknown,
  ): Promise<Outcome> {
    const text = errorText(error);
    if (isTransientDatabaseError(error))
      return { kind: 'unavailable', error: text };
    const counted = await this.transaction(async (client) => {
      const failures = await this.inbox.countFailure(client, key.id, text);
      return { kind: 'failed', failures, error: text };
    });
    if (counted.kind === 'threw')
      return { kind: 'unavailable', error: errorText(counted.error) };
    if (
      counted.kind !== 'failed' ||
      counted.failures < this.options.maxDeliveries
    )
      return counted;
    const final = await this.transaction(async (client) => {
      const claim = await this.inbox.claim(client, key);
      if (claim.kind === 'early') return claim;
      if (claim.kind === 'duplicate') return { kind: 'duplicate' };
      return this.deadLetter(client, message, key, text, counted.failures);
    });
    return final.kind === 'threw'
      ? { kind: 'unavailable', error: errorText(final.error) }
      : final;
  }

  /** Stores the dead letter: the message's raw bytes, the reason, and the event it names, if any. */
  async deadLetter(
    client: PoolClient,
    message: DeliveredMessage,
    key: EventKey | undefined,
    error: string,
    deliveries = message.info.deliveryCount,
  ): Promise<Outcome> {
    await this.inbox.deadLetter(client, {
      streamSequence: message.seq,
      subject: message.subject,
      event: key,
      deliveries,
      error,
      payload: message.data,
    });
    return { kind: 'dead-lettered', error };
  }

  /**
   * BEGIN, `work`, then COMMIT what is applied, dead-lettered or counted, and ROLLBACK the rest. A
   * statement that fails because the database is lost (or a rollback) counts nothing; one that
   * fails on the event's own data (a constraint, a value out of range) is the event's failure.
   */
  async transaction<T extends Outcome | EventFailed>(
    work: (client: PoolClient) => Promise<T>,
  ): Promise<T | Outcome | EventFailed> {
    let client: PoolClient;
    try {
      client = await this.options.pool.connect();
    } catch (error) {
      return { kind: 'unavailable', error: errorText(error) };
    }
    // A connection lost while checked out emits 'error' on the client, and without a listener the
    // process dies; the query in progress rejects as well, and that is what is acted on.
    const ignore = () => undefined;
    client.on('error', ignore);
    let broken = false;
    try {
      await client.query('BEGIN');
      const outcome = await work(client);
      const keep = ['applied', 'dead-lettered', 'failed'].includes(
        outcome.kind,
      );
      await client.query(keep ? 'COMMIT' : 'ROLLBACK');
      return outcome;
    } catch (error) {
      broken = isDatabaseLoss(error);
      await client.query('ROLLBACK').catch(ignore);
      return broken
        ? { kind: 'unavailable', error: errorText(error) }
        : { kind: 'threw', error };
    } finally {
      client.off('error', ignore);
      client.release(broken);
    }
  }
}
