import type { Pool, PoolClient } from 'pg';
import { type DeadLetter, type EventKey, Inbox } from './inbox.js';
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

/** Inside the transaction: a failure to count once it is rolled back. */
interface Failure {
  kind: 'failure';
  eventId: string;
  error: string;
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

/** The database, not the handler, failed: the event's transaction cannot go on. */
class DatabaseUnavailable extends Error {}

const errorText = (error: unknown) =>
  error instanceof Error ? error.message : String(error);

/**
 * One event, exactly once: claim its id in the inbox, check its order's position, run the handler,
 * move the position, commit. Acknowledging is the caller's part, after this returns.
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
    if (!key) return this.deadLetterUnordered(message, invalid ?? 'unreadable');
    return this.transaction(async (client) => {
      const claim = await this.inbox.claim(client, key);
      if (claim.kind === 'duplicate') return { kind: 'duplicate' };
      if (claim.kind === 'early' && !overdue) return claim;
      const reason =
        invalid ??
        (claim.kind === 'early'
          ? `sequence ${claim.applied + 1} of order ${key.orderId} never arrived`
          : undefined);
      if (reason !== undefined || !event)
        return this.deadLetter(client, message, key, reason ?? 'unreadable');
      return this.runHandler(client, message, key, event);
    });
  }

  private async runHandler(
    client: PoolClient,
    message: DeliveredMessage,
    key: EventKey,
    event: OrderEvent,
  ): Promise<Outcome | Failure> {
    await client.query('SAVEPOINT handler');
    try {
      await this.options.handler(event, client);
    } catch (error) {
      return this.handlerFailed(client, message, key, error);
    }
    await this.inbox.advance(client, key);
    if (message.redelivered) await this.inbox.forgetFailures(client, key.id);
    return { kind: 'applied' };
  }

  /**
   * The handler threw. Its work is undone to the savepoint (a rollback that fails means the
   * database is the trouble). A database's own failure counts nothing; any other counts one, and
   * the last one allowed dead-letters the event in this same transaction.
   */
  private async handlerFailed(
    client: PoolClient,
    message: DeliveredMessage,
    key: EventKey,
    error: unknown,
  ): Promise<Outcome | Failure> {
    await client
      .query('ROLLBACK TO SAVEPOINT handler')
      .catch((rollback: unknown) => {
        throw new DatabaseUnavailable(errorText(rollback));
      });
    if (isTransientDatabaseError(error))
      throw new DatabaseUnavailable(errorText(error));
    const failures = (await this.inbox.failures(client, key.id)) + 1;
    if (failures < this.options.maxDeliveries)
      return { kind: 'failure', eventId: key.id, error: errorText(error) };
    return this.deadLetter(client, message, key, errorText(error), failures);
  }

  private async deadLetter(
    client: PoolClient,
    message: DeliveredMessage,
    key: EventKey | undefined,
    error: string,
    deliveries = message.info.deliveryCount,
  ): Promise<Outcome> {
    const letter: DeadLetter = {
      streamSequence: message.seq,
      subject: message.subject,
      event: key,
      deliveries,
      error,
      payload: Buffer.from(message.data).toString('utf8'),
    };
    await this.inbox.deadLetter(client, letter, key);
    return { kind: 'dead-lettered', error };
  }

  private deadLetterUnordered(
    message: DeliveredMessage,
    error: string,
  ): Promise<Outcome> {
    return this.transaction((client) =>
      this.deadLetter(client, message, undefined, error),
    );
  }

  /**
   * BEGIN, `work`, COMMIT what is applied or dead-lettered, ROLLBACK the rest. A handler's failure
   * is counted after the rollback, in a statement of its own, so that it outlives the transaction.
   */
  private async transaction(
    work: (client: PoolClient) => Promise<Outcome | Failure>,
  ): Promise<Outcome> {
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
      if (outcome.kind === 'applied' || outcome.kind === 'dead-lettered') {
        await client.query('COMMIT');
        return outcome;
      }
      await client.query('ROLLBACK');
      if (outcome.kind !== 'failure') return outcome;
      const failures = await this.inbox.countFailure(
        client,
        outcome.eventId,
        outcome.error,
      );
      return { kind: 'failed', failures, error: outcome.error };
    } catch (error) {
      // Every statement here is the inbox's or a rollback: what fails is the database.
      broken = true;
      await client.query('ROLLBACK').catch(ignore);
      return { kind: 'unavailable', error: errorText(error) };
    } finally {
      client.off('error', ignore);
      client.release(broken);
    }
  }
}
