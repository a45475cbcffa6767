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
import type { Pool } from 'pg';
import { appConfig, databaseConfig, eventsConfig } from '../config';
import { checkOut } from '../database/checked-out-client';
import { PG_POOL } from '../database/pg-pool.module';
import { FoldedWarning } from '../idempotency';
import { IncompatibleStreamError, NatsBroker } from '../nats/nats-broker';
import { CLOUD_EVENT_CONTENT_TYPE, toCloudEvent } from './cloud-event';
import { EventsMetrics } from './events.metrics';
import {
  ACQUIRE_RELAY_LEASE,
  MARK_EVENTS_PUBLISHED,
  type PendingEventRow,
  RELEASE_RELAY_LEASE,
  SELECT_PENDING_EVENTS,
} from './order-events.sql';

/** A lease outlives a few missed renewals; a standby tries every second, so a takeover takes under 5 s. */
const LEASE_SECONDS = 3;
const STANDBY_RETRY_MS = 1000;
/** Every subject an order event is published on. */
export const EVENT_SUBJECTS = ['orders.>'];

/**
 * Publishes the outbox to JetStream: one relay at a time across instances (a lease row), woken by
 * each commit that writes an event (LISTEN) and by a timer, in batches of at most one event per
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
  private streamReady = false;
  private lastStreamProblem?: string;
  private stopped = false;
  private signalStopped!: () => void;
  /** Settles at shutdown: what the listener waits on besides its connection's loss. */
  private readonly whenStopped = new Promise<void>(
    (resolve) => (this.signalStopped = resolve),
  );
  private wake?: () => void;
  private loop?: Promise<void>;
  private listening?: Promise<void>;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly broker: NatsBroker,
    private readonly metrics: EventsMetrics,
    @Inject(eventsConfig.KEY)
    private readonly config: ConfigType<typeof eventsConfig>,
    @Inject(databaseConfig.KEY)
    private readonly database: ConfigType<typeof databaseConfig>,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
  ) {
    this.enabled = config.natsServers.length > 0;
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    this.loop = this.run();
    // Behind a transaction pooler a LISTEN would not stay on one server session: the timer alone wakes it.
    if (this.database.pooler !== 'transaction') this.listening = this.listen();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.signalStopped();
    this.wake?.();
    await Promise.all([this.loop, this.listening]);
    if (this.leader)
      await this.pool
        .query(RELEASE_RELAY_LEASE, [this.holder])
        .catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let more = false;
      try {
        if (await this.holdLease()) more = await this.relayOnce();
      } catch (error) {
        this.publishFailed.warn(`events not published: ${String(error)}`);
      }
      if (!more)
        await this.sleep(this.leader ? this.config.pollMs : STANDBY_RETRY_MS);
    }
  }

  private async holdLease(): Promise<boolean> {
    const { rows } = await this.pool.query(ACQUIRE_RELAY_LEASE, [
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
    if (!leader) this.streamReady = false;
    return leader;
  }

  /** One batch; true when more events are waiting. */
  private async relayOnce(): Promise<boolean> {
    if (!(await this.ensureStream())) return false;
    const { rows } = await this.pool.query<PendingEventRow>(
      SELECT_PENDING_EVENTS,
      [this.config.batchSize],
    );
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
      await this.pool.query(MARK_EVENTS_PUBLISHED, [published]);
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
        return js.publish(
          row.type,
          JSON.stringify(toCloudEvent(row, this.config.source)),
          { msgID: row.id, timeout: this.config.publishTimeoutMs, headers },
        );
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

  /** Wakes the relay at every commit that wrote an event (the order_events_notify trigger). */
  private async listen(): Promise<void> {
    while (!this.stopped) {
      try {
        const { client, lost, release } = await checkOut(this.pool);
        client.on('notification', () => this.wake?.());
        try {
          await client.query('LISTEN order_events');
        } catch (error) {
          release(error as Error);
          throw error;
        }
        const error = await Promise.race([lost, this.whenStopped]);
        release(error instanceof Error ? error : undefined);
      } catch {
        // The database is away: the timer keeps the relay going meanwhile.
      }
      // Not this.sleep: that is the relay loop's, which each commit's notification wakes.
      if (!this.stopped)
        await Promise.race([
          new Promise((resolve) =>
            setTimeout(resolve, STANDBY_RETRY_MS).unref(),
          ),
          this.whenStopped,
        ]);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
