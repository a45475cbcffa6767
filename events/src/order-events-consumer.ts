import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JsMsg,
} from '@nats-io/jetstream';
import {
  connect,
  nanos,
  type ConnectionOptions,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import type { Pool } from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  EventApplier,
  readMessage,
  type OrderEventHandler,
  type Outcome,
} from './event-applier.js';
import { backoffMs } from './retry.js';
import { Slots } from './slots.js';

export interface ConsumerLogger {
  log(line: string): void;
  warn(line: string): void;
  error(line: string): void;
}

export interface OrderEventsConsumerOptions {
  /** A NATS connection the caller owns; or `servers`, for one the consumer opens and closes. */
  connection?: NatsConnection;
  servers?: string | string[];
  /** Credentials for the connection it opens: see natsConnectOptions(process.env). */
  user?: string;
  pass?: string;
  token?: string;
  authenticator?: ConnectionOptions['authenticator'];
  /**
   * The CloudEvents `source` the orders service publishes with (its EVENTS_SOURCE). An event from
   * any other source is dead-lettered unread. Default `/orders`.
   */
  source?: string;
  /**
   * What precedes an event's `type` in the subject it is published on: the service publishes
   * `orders.order.paid` on `orders.order.paid`, so the default is empty. An event on any other
   * subject is dead-lettered unread.
   */
  subjectPrefix?: string;
  /** The orders service's stream (its EVENTS_STREAM). Default `ORDERS`. */
  stream?: string;
  /** The durable JetStream consumer, shared by every process of the service; also the inbox's key. */
  durable: string;
  /**
   * Default `orders.>`. Keeping each order's events in sequence needs all of them: a narrower
   * filter leaves gaps, and events after a gap are dead-lettered once `maxWaitMs` has passed.
   */
  filterSubject?: string;
  /** The consumer's own database, where the inbox tables are (applyInboxSchema). */
  pool: Pool;
  handler: OrderEventHandler;
  /** Handler failures after which an event is dead-lettered. Default 5. */
  maxDeliveries?: number;
  /** Events applied at once by this process (each holds a connection of the pool). Default 8. */
  concurrency?: number;
  /** How long JetStream waits for an acknowledgement before it delivers again. Default 30 s. */
  ackWaitMs?: number;
  /** First delay before a failed event is delivered again (doubling, up to 30 s). Default 200 ms. */
  retryDelayMs?: number;
  /**
   * How long an event waits for its order's previous one, counted from when this process first
   * held it (never from its publication: a group that starts late reads old events). It is then
   * dead-lettered only once every earlier message of the stream is settled, which proves that the
   * previous one is not on the stream. Default 10 min.
   */
  maxWaitMs?: number;
  /**
   * JetStream's backstop: deliveries after which the server stops delivering a message. The
   * consumer dead-letters such a message from its advisory. Default 10,000 (at the longest delay
   * between deliveries, 30 s, days of database outage).
   */
  maxDeliver?: number;
  logger?: ConsumerLogger;
}

export interface ConsumerStats {
  applied: number;
  duplicates: number;
  /** Deliveries that came before their order's previous event was applied (waited for, or put back). */
  early: number;
  failed: number;
  deadLettered: number;
  /** Deliveries put back because the database could not be reached. */
  unavailable: number;
}

const WARN_EVERY_MS = 5000;
/** The ack floor is asked at most this often: a gap's proof may be a second old. */
const ACK_FLOOR_TTL_MS = 500;
/** Early events this process remembers first holding; the server's max_ack_pending (1000) bounds it first. */
const FIRST_HELD_BOUND = 10_000;

/**
 * Applies the orders service's events exactly once: each event's effect commits in the consumer's
 * database together with its id in the inbox, and only then is it acknowledged, so a redelivery
 * (after a crash, a lost acknowledgement, a second process) finds its id and changes nothing.
 * Events of one order are applied in sequence, whatever the number of processes.
 *
 * @example
 * const consumer = new OrderEventsConsumer({
 *   servers: 'nats://127.0.0.1:4222', durable: 'fulfilment', pool,
 *   handler: async (event, tx) => {
 *     if (event.type === 'orders.order.paid')
 *       await tx.query('INSERT INTO shipments (order_id) VALUES ($1)', [event.subject]);
 *   },
 * });
 * await consumer.start();
 * process.once('SIGTERM', () => void consumer.stop());
 */
export class OrderEventsConsumer {
  private readonly applier: EventApplier;
  private readonly slots: Slots;
  private readonly statistics: ConsumerStats = {
    applied: 0,
    duplicates: 0,
    early: 0,
    failed: 0,
    deadLettered: 0,
    unavailable: 0,
  };
  private readonly logger: ConsumerLogger;
  private connection?: NatsConnection;
  private messages?: ConsumerMessages;
  private running?: Promise<void>;
  private stopping = false;
  private lastWarnedAt = 0;
  private warningsFolded = 0;
  /** Events in hand, by order and sequence: an order's next event waits for them here. */
  private readonly inHand = new Map<string, Promise<unknown>>();
  /** When this process first held each early message (by stream sequence): its wait starts there. */
  private readonly firstHeld = new Map<number, number>();
  private ackFloor?: { streamSequence: number; readAt: number };
  private advisories?: Subscription;

  constructor(private readonly options: OrderEventsConsumerOptions) {
    this.applier = new EventApplier({
      pool: options.pool,
      consumer: options.durable,
      handler: options.handler,
      maxDeliveries: options.maxDeliveries ?? 5,
    });
    this.slots = new Slots(options.concurrency ?? 8);
    this.logger = options.logger ?? console;
  }

  get stream(): string {
    return this.options.stream ?? 'ORDERS';
  }

  /** Counters since start: applied, duplicates, early, failed, dead-lettered, unavailable. */
  stats(): ConsumerStats {
    return { ...this.statistics };
  }

  /** Connects (when given servers), creates or updates the durable consumer, and starts pulling. */
  async start(): Promise<void> {
    this.connection =
      this.options.connection ??
      (await connect({
        servers: this.options.servers,
        user: this.options.user,
        pass: this.options.pass,
        token: this.options.token,
        authenticator: this.options.authenticator,
        name: this.options.durable,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
      }));
    await this.ensureConsumer();
    this.watchMaxDeliveries();
    this.running = this.pull();
    this.logger.log(
      `consuming ${this.stream} (${this.options.filterSubject ?? 'orders.>'}) as ${this.options.durable}`,
    );
  }

  /** Stops pulling, finishes the events in hand (and acknowledges them), then closes what it opened. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.advisories?.unsubscribe();
    await this.messages?.close();
    await this.running;
    await this.slots.idle();
    // The acknowledgements just sent reach the server before stop() resolves.
    if (this.options.connection) await this.connection?.flush();
    else await this.connection?.drain();
  }

  private async ensureConsumer(): Promise<void> {
    const config = {
      durable_name: this.options.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: this.options.filterSubject ?? 'orders.>',
      ack_wait: nanos(this.options.ackWaitMs ?? 30_000),
      max_ack_pending: 1000,
      max_deliver: this.options.maxDeliver ?? 10_000,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        // Inside the retry: the manager asks JetStream for the account's info first, which times out
        // while the cluster has no meta leader (a node restarting).
        const jsm = await jetstreamManager(this.connection!);
        const existing = await jsm.consumers
          .info(this.stream, this.options.durable)
          .catch(() => undefined);
        if (existing)
          await jsm.consumers.update(this.stream, this.options.durable, config);
        else await jsm.consumers.add(this.stream, config);
        return;
      } catch (error) {
        // The stream may not be there yet (the orders service creates it), or JetStream is electing.
        if (this.stopping) throw error;
        if (attempt === 1)
          this.logger.warn(
            `consumer ${this.options.durable} on ${this.stream} not ready, retrying: ${String(error)}`,
          );
        await sleep(1000);
      }
    }
  }

  /** The pull loop: one message at a time into a free slot; pulls again after a broken pull. */
  private async pull(): Promise<void> {
    const js = jetstream(this.connection!);
    const maxMessages = 2 * (this.options.concurrency ?? 8);
    while (!this.stopping) {
      try {
        const consumer = await js.consumers.get(
          this.stream,
          this.options.durable,
        );
        this.messages = await consumer.consume({
          max_messages: maxMessages,
          expires: 10_000,
        });
        for await (const message of this.messages) {
          // Stopping: what was pulled but not begun goes straight back, for another process.
          if (this.stopping) {
            message.nak();
            continue;
          }
          await this.slots.acquire();
          void this.handle(message).finally(() => this.slots.release());
        }
      } catch (error) {
        this.warn(`pulling from ${this.stream} failed: ${String(error)}`);
      }
      if (!this.stopping) await sleep(1000);
    }
  }

  private async handle(message: JsMsg): Promise<void> {
    const reading = readMessage(message.data, {
      source: this.options.source ?? '/orders',
      natsSubject: message.subject,
      subjectPrefix: this.options.subjectPrefix,
    });
    const { orderId, sequence } = reading.key ?? { orderId: '', sequence: 0 };
    const mine = `${orderId}:${sequence}`;
    // The order's previous event is in this process's hands: wait for it rather than for a redelivery.
    const previous = this.inHand.get(`${orderId}:${sequence - 1}`);
    const done = (async () => {
      await previous?.catch(() => undefined);
      let outcome = await this.applier.apply(message, reading);
      if (outcome.kind === 'early') this.statistics.early++;
      // Its predecessor is most likely in another process's hands, committing now: a few short
      // waits here cost less than a redelivery through the server.
      for (
        let waitMs = 5;
        outcome.kind === 'early' && waitMs <= 40;
        waitMs *= 2
      ) {
        if (this.stopping) break;
        await sleep(waitMs);
        outcome = await this.applier.apply(message, reading);
      }
      if (outcome.kind === 'early' && (await this.gapProven(message)))
        outcome = await this.applier.apply(message, reading, true);
      if (outcome.kind !== 'early') this.firstHeld.delete(message.seq);
      this.settle(message, outcome);
    })();
    if (reading.key) this.inHand.set(mine, done);
    try {
      await done;
    } catch (error) {
      // A defect, not an event's fault: leave it to be delivered again.
      this.logger.error(
        `event at stream sequence ${message.seq}: ${String(error)}`,
      );
      message.nak(1000);
    } finally {
      if (this.inHand.get(mine) === done) this.inHand.delete(mine);
    }
  }

  /**
   * Whether an early event's predecessor is proven absent: this process has held the event for
   * maxWaitMs (since it first held it, whatever its age on the stream), and every message before
   * it in the stream is settled (acknowledged: applied or dead-lettered). The relay publishes an
   * order's events in sequence, so a predecessor on the stream is always before its successor.
   */
  private async gapProven(message: JsMsg): Promise<boolean> {
    const now = Date.now();
    let since = this.firstHeld.get(message.seq);
    if (since === undefined) {
      if (this.firstHeld.size >= FIRST_HELD_BOUND)
        this.firstHeld.delete(this.firstHeld.keys().next().value!);
      this.firstHeld.set(message.seq, (since = now));
    }
    if (now - since < (this.options.maxWaitMs ?? 600_000)) return false;
    return (await this.settledBelow()) >= message.seq - 1;
  }

  /** The durable consumer's ack floor: every stream sequence up to it is acknowledged. */
  private async settledBelow(): Promise<number> {
    if (this.ackFloor && Date.now() - this.ackFloor.readAt < ACK_FLOOR_TTL_MS)
      return this.ackFloor.streamSequence;
    try {
      const jsm = await jetstreamManager(this.connection!);
      const info = await jsm.consumers.info(this.stream, this.options.durable);
      this.ackFloor = {
        streamSequence: info.ack_floor.stream_seq,
        readAt: Date.now(),
      };
      return this.ackFloor.streamSequence;
    } catch (error) {
      this.warn(`reading the ack floor failed: ${String(error)}`);
      return 0;
    }
  }

  /**
   * JetStream's max_deliver backstop: the server stops delivering a message after that many
   * deliveries and says so in an advisory. The message is read from the stream and dead-lettered
   * with the reason, so that it is never dropped without a record.
   */
  private watchMaxDeliveries(): void {
    const subject = `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${this.stream}.${this.options.durable}`;
    this.advisories = this.connection!.subscribe(subject, {
      callback: (error, advisory) => {
        if (error) return;
        const { stream_seq: seq, deliveries } = advisory.json<{
          stream_seq: number;
          deliveries: number;
        }>();
        void this.deadLetterUndeliverable(seq, deliveries);
      },
    });
  }

  private async deadLetterUndeliverable(
    seq: number,
    deliveries: number,
  ): Promise<void> {
    try {
      const jsm = await jetstreamManager(this.connection!);
      const stored = await jsm.streams.getMessage(this.stream, { seq });
      if (!stored) return;
      const message = {
        data: stored.data,
        subject: stored.subject,
        seq,
        redelivered: true,
        info: { deliveryCount: deliveries },
      };
      const reason = `JetStream stopped delivering it after ${deliveries} deliveries (max_deliver)`;
      const outcome = await this.applier.transaction((client) =>
        this.applier.deadLetter(client, message, undefined, reason),
      );
      if (outcome.kind !== 'dead-lettered')
        return this.logger.error(
          `stream sequence ${seq} reached max_deliver and could not be dead-lettered: ${'error' in outcome ? String(outcome.error) : outcome.kind}`,
        );
      this.firstHeld.delete(seq);
      this.statistics.deadLettered++;
      this.logger.error(`dead-lettered stream sequence ${seq}: ${reason}`);
    } catch (error) {
      this.logger.error(
        `stream sequence ${seq} reached max_deliver and could not be read: ${String(error)}`,
      );
    }
  }

  /** Acknowledges what is done for good; puts the rest back with a delay. */
  private settle(message: JsMsg, outcome: Outcome): void {
    const retryBase = this.options.retryDelayMs ?? 200;
    const deliveries = message.info.deliveryCount;
    switch (outcome.kind) {
      case 'applied':
      case 'duplicate':
        this.statistics[
          outcome.kind === 'applied' ? 'applied' : 'duplicates'
        ]++;
        return message.ack();
      case 'dead-lettered':
        this.statistics.deadLettered++;
        this.logger.error(
          `dead-lettered ${message.subject} at stream sequence ${message.seq} after ${deliveries} deliveries: ${outcome.error}`,
        );
        return message.ack();
      case 'early':
        return message.nak(backoffMs(deliveries, 50, 5000));
      case 'failed':
        this.statistics.failed++;
        this.logger.warn(
          `handler failed (${outcome.failures} of ${this.options.maxDeliveries ?? 5}) on ${message.subject} at stream sequence ${message.seq}: ${outcome.error}`,
        );
        return message.nak(backoffMs(outcome.failures, retryBase, 30_000));
      case 'unavailable':
        this.statistics.unavailable++;
        this.warn(`database unavailable: ${outcome.error}`);
        return message.nak(backoffMs(deliveries, retryBase, 30_000));
    }
  }

  /** A warning that repeats (a database or NATS outage) is logged once per 5 s, with a count. */
  private warn(line: string): void {
    if (Date.now() - this.lastWarnedAt < WARN_EVERY_MS) {
      this.warningsFolded++;
      return;
    }
    const folded = this.warningsFolded
      ? ` (${this.warningsFolded} more since the last warning)`
      : '';
    this.logger.warn(line + folded);
    this.lastWarnedAt = Date.now();
    this.warningsFolded = 0;
  }
}
