import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Pool, type QueryResult } from 'pg';
import { appConfig, eventsConfig } from '../config';
import { PG_POOL } from '../database/pg-pool.module';
import { FoldedWarning } from '../idempotency';
import { IncompatibleStreamError, NatsBroker } from '../nats/nats-broker';
import { CLOUD_EVENT_CONTENT_TYPE, cloudEventJson } from './cloud-event';
import { EventsMetrics } from './events.metrics';
import {
  ACQUIRE_RELAY_LEASE,
  MARK_EVENTS_PUBLISHED,
  type PendingEventRow,
  RELEASE_RELAY_LEASE,
  selectPendingEvents,
} from './order-events.sql';

/** A lease outlives a few missed renewals; a standby tries every second, so a takeover takes under 5 s. */
const LEASE_SECONDS = 3;
const STANDBY_RETRY_MS = 1000;
/** The holder renews its lease once a second, not at every round. */
const LEASE_RENEW_MS = 1000;
/**
 * Rounds start at least this far apart: commits that arrive together (hundreds a second under load,
 * each waking it) share one round's queries instead of paying them each.
 */
const MIN_ROUND_MS = 10;
/** An instance that does not relay tells the one that does at most this often (one NATS message). */
const REMOTE_WAKE_MS = 5;
/** Every subject an order event is published on. */
export const EVENT_SUBJECTS = ['orders.>'];

/**
 * Publishes the outbox to JetStream: one relay at a time across instances (a lease row), woken by
 * each commit that writes an event (`written()`) and by a timer, in batches of at most one event per
 * order so that each order's events reach the stream in sequence. A row is marked published only
 * after the stream acknowledged it; a relay that dies in between publishes it again under the same
 * Nats-Msg-Id, which the stream drops as a duplicate within its window. NATS down, slow or
 * partitioned costs the API nothing: events wait in the outbox and drain in order when it returns.
 */
@Injectable()
export class OutboxRelay
  implements OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly logger = new Logger('OutboxRelay');
  private readonly holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly publishFailed = new FoldedWarning(this.logger, 10_000);
  private readonly enabled: boolean;
  private leader = false;
  private leaseRenewedAt = 0;
  private streamReady = false;
  private lastStreamProblem?: string;
  private stopped = false;
  /** Set by a wake-up; the relay's next sleep returns at once (none is lost while a round runs). */
  private woken = false;
  private wakeSleeper?: () => void;
  private loop?: Promise<void>;
  private lastRemoteWake = 0;
  private remoteWake?: NodeJS.Timeout;
  /**
   * The relay's own two connections, made like the app's pool's: under load the app's pool has a
   * queue of requests, and the relay's three statements a round waited behind it (tens of ms each).
   */
  private db?: Pool;
  /** Core NATS, outside the stream's subjects: "an event was committed", for whoever relays. */
  private readonly wakeSubject: string;
  private readonly sourceJson: string;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly broker: NatsBroker,
    private readonly metrics: EventsMetrics,
    @Inject(eventsConfig.KEY)
    private readonly config: ConfigType<typeof eventsConfig>,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
  ) {
    this.enabled = config.natsServers.length > 0;
    this.wakeSubject = `_orders_relay.${config.stream}.wake`;
    this.sourceJson = JSON.stringify(config.source);
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    this.db = new Pool({
      ...(this.pool as Pool & { options: object }).options,
      max: 2,
      min: 0,
    });
    // An idle connection that drops is the pool's to replace; the next query says if it matters.
    this.db.on('error', () => undefined);
    this.broker.subscribe(this.wakeSubject, () => {
      if (this.leader) this.wake();
    });
    this.loop = this.run();
  }

  /**
   * Called after each commit that wrote an event: wakes the relay, in this process when it relays
   * here, else with one core NATS message (coalesced to one per REMOTE_WAKE_MS) to the instance that
   * does. Not a Postgres NOTIFY: a notifying commit takes a database-wide lock, which serialised the
   * creates and cost a sixth of their rate in the benchmark. A wake-up lost with NATS is harmless:
   * the relay polls every EVENTS_POLL_MS, and it cannot publish while NATS is away anyway.
   */
  written(): void {
    if (!this.enabled || this.stopped) return;
    if (this.leader) return this.wake();
    if (this.remoteWake) return;
    const send = () => {
      this.remoteWake = undefined;
      this.lastRemoteWake = Date.now();
      this.broker.signal(this.wakeSubject);
    };
    const due = this.lastRemoteWake + REMOTE_WAKE_MS - Date.now();
    if (due <= 0) send();
    else this.remoteWake = setTimeout(send, due).unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.remoteWake);
    this.wake();
    await this.loop;
    if (this.leader)
      await this.db!.query(RELEASE_RELAY_LEASE, [this.holder]).catch(
        () => undefined,
      );
    await this.db?.end().catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const started = Date.now();
      let more = false;
      try {
        if (await this.holdLease()) more = await this.relayOnce();
      } catch (error) {
        this.publishFailed.warn(`events not published: ${String(error)}`);
      }
      if (!more)
        await this.sleep(this.leader ? this.config.pollMs : STANDBY_RETRY_MS);
      const spacing = started + MIN_ROUND_MS - Date.now();
      if (spacing > 0 && !this.stopped)
        await new Promise((resolve) => setTimeout(resolve, spacing));
    }
  }

  private async holdLease(): Promise<boolean> {
    if (this.leader && Date.now() - this.leaseRenewedAt < LEASE_RENEW_MS)
      return true;
    const renewing = Date.now();
    const { rows } = await this.db!.query(ACQUIRE_RELAY_LEASE, [
      this.holder,
      LEASE_SECONDS,
    ]);
    const leader = rows.length === 1;
    if (leader !== this.leader)
      this.logger.log(
        leader
          ? `relaying events as ${this.holder}`
          : 'another instance relays events now',
      );
    this.leader = leader;
    if (leader) this.leaseRenewedAt = renewing;
    else this.streamReady = false;
    return leader;
  }

  /** One batch; true when more events are waiting. */
  private async relayOnce(): Promise<boolean> {
    if (!(await this.ensureStream())) return false;
    const results = (await this.db!.query(
      selectPendingEvents(this.config.batchSize),
    )) as unknown as QueryResult<PendingEventRow>[];
    const { rows } = results[2];
    if (rows.length === 0) return false;
    // One event per order per batch: the next of an order goes once its predecessor is acknowledged.
    const orders = new Set<string>();
    const batch = rows.filter(
      (row) => !orders.has(row.order_id) && !!orders.add(row.order_id),
    );
    const published = await this.publish(batch);
    if (this.app.testFault.kind === 'crash-after-publish' && published.length)
      process.kill(process.pid, 'SIGKILL');
    if (published.length)
      await this.db!.query(MARK_EVENTS_PUBLISHED, [published]);
    this.metrics.published(published.length);
    const failed = batch.length - published.length;
    if (failed > 0) {
      this.metrics.failed(failed);
      this.publishFailed.warn(
        `${failed} of ${batch.length} events not acknowledged by the stream; they stay pending and are retried`,
      );
      return false;
    }
    return rows.length === this.config.batchSize || batch.length < rows.length;
  }

  /** The ids the stream acknowledged (a duplicate counts: it holds the event already). */
  private async publish(batch: PendingEventRow[]): Promise<string[]> {
    const js = await this.broker.jetstream();
    const results = await Promise.allSettled(
      batch.map((row) => {
        const headers = natsHeaders();
        headers.set('Content-Type', CLOUD_EVENT_CONTENT_TYPE);
        return js.publish(row.type, cloudEventJson(row, this.sourceJson), {
          msgID: row.id,
          timeout: this.config.publishTimeoutMs,
          headers,
        });
      }),
    );
    return batch
      .filter((_, index) => results[index].status === 'fulfilled')
      .map((row) => row.id);
  }

  /** Creates or updates the stream once per leadership; a refusal is logged once and retried later. */
  private async ensureStream(): Promise<boolean> {
    if (this.streamReady) return true;
    try {
      await this.broker.ensureStream({
        name: this.config.stream,
        subjects: EVENT_SUBJECTS,
        duplicateWindowSeconds: this.config.duplicateWindowSeconds,
        replicas: this.config.streamReplicas,
        maxAgeSeconds: this.config.maxAgeSeconds,
      });
      this.streamReady = true;
      this.lastStreamProblem = undefined;
      return true;
    } catch (error) {
      if (!(error instanceof IncompatibleStreamError)) throw error;
      if (error.message !== this.lastStreamProblem)
        this.logger.error(
          `${error.message}; events stay pending until it is fixed`,
        );
      this.lastStreamProblem = error.message;
      return false;
    }
  }

  private wake(): void {
    this.woken = true;
    this.wakeSleeper?.();
  }

  /** Waits `ms`, or until a wake-up, one that came during the round just run included. */
  private sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeSleeper = undefined;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeSleeper = done;
    });
  }
}
