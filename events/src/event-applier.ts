import type { Pool, PoolClient } from 'pg';
import { type EventKey, Inbox } from './inbox.js';
import {
  InvalidEventError,
  parseOrderEvent,
  type OrderEvent,
} from './order-event.js';
import { isTransientDatabaseError } from './retry.js';

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
  /** The handler threw: counted, to be delivered again. */
  | { kind: 'failed'; failures: number; error: string }
  /** The database could not be reached or failed on its own: nothing counted, try again later. */
  | { kind: 'unavailable'; error: string };

/** Inside the transaction: the handler threw; its error, to count once the event is rolled back. */
interface HandlerThrew {
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

/** Reads a message once: the event, or why it is not one (dead-lettered in its turn, when it names its order). */
export function readMessage(data: Uint8Array): Reading {
  try {
    const event = parseOrderEvent(data);
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
  private readonly inbox: Inbox;

  constructor(private readonly options: ApplierOptions) {
    this.inbox = new Inbox(options.consumer);
  }

  /**
   * Applies what `reading` found in the message. `overdue`: an early event that waited long enough
   * for its predecessor; it is dead-lettered instead.
   */
  async apply(
    message: DeliveredMessage,
    reading: Reading,
    overdue = false,
  ): Promise<Outcome> {
    const { key, event, invalid } = reading;
    // Nothing to keep in order by: dead-lettered at once.
    if (!key)
      return this.transaction((client) =>
        this.deadLetter(client, message, undefined, invalid ?? 'unreadable'),
      );
    const outcome = await this.transaction(async (client) => {
      const claim = await this.inbox.claim(client, key);
      if (claim.kind === 'duplicate') return { kind: 'duplicate' };
      if (claim.kind === 'early') {
        if (!overdue) return claim;
        await this.inbox.advance(client, key);
        const missing = `sequence ${claim.applied + 1} of order ${key.orderId} never arrived`;
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
    return this.handlerFailed(message, key, outcome.error);
  }

  /**
   * The handler threw and its event was rolled back. The database's own failure counts nothing; any
   * other counts one (outside the event's transaction, so that the count outlives it), and the last
   * one allowed dead-letters the event, in a transaction that claims it again.
   */
  private async handlerFailed(
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
    if (
      counted.kind !== 'failed' ||
      counted.failures < this.options.maxDeliveries
    )
      return counted;
    return this.transaction(async (client) => {
      const claim = await this.inbox.claim(client, key);
      if (claim.kind !== 'apply')
        return claim.kind === 'early' ? claim : { kind: 'duplicate' };
      return this.deadLetter(client, message, key, text, counted.failures);
    });
  }

  private async deadLetter(
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
      payload: Buffer.from(message.data).toString('utf8'),
    });
    return { kind: 'dead-lettered', error };
  }

  /**
   * BEGIN, `work`, then COMMIT what is applied, dead-lettered or counted, and ROLLBACK the rest. A
   * statement that fails (or a rollback) means the database is the trouble: nothing is counted.
   */
  private async transaction<T extends Outcome | HandlerThrew>(
    work: (client: PoolClient) => Promise<T>,
  ): Promise<T | Outcome> {
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
      broken = true;
      await client.query('ROLLBACK').catch(ignore);
      return { kind: 'unavailable', error: errorText(error) };
    } finally {
      client.off('error', ignore);
      client.release(broken);
    }
  }
}
