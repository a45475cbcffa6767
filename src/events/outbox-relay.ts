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
import { Pool, type QueryConfig } from 'pg';
import { appConfig, databaseConfig, eventsConfig } from '../config';
import { PG_POOL } from '../database/pg-pool.module';
import { statementName } from '../database/statement-name';
import { FoldedWarning } from '../idempotency';
import { IncompatibleStreamError, NatsBroker } from '../nats/nats-broker';
import { CLOUD_EVENT_CONTENT_TYPE, cloudEventJson } from './cloud-event';
import { EventsMetrics } from './events.metrics';
import { relayWakeSubject } from './relay-wake';
import { JetStreamApiError } from '@nats-io/jetstream';
import { PermissionViolationError } from '@nats-io/transport-node';
import {
  ACQUIRE_RELAY_LEASE,
  COUNT_DUE_EVENTS,
  COUNT_REFUSED_PUBLISHES,
  DELETE_PUBLISHED_EVENTS,
  MARK_EVENTS_PUBLISHED,
  type PendingEventRow,
  RELEASE_RELAY_LEASE,
  SELECT_DUE_EVENTS,
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
/** After the stream refused an event: the first wait before it is tried again, doubling, and the cap. */
const REFUSED_RETRY_MS = 1000;
const REFUSED_RETRY_MAX_MS = 5 * 60_000;

/** What became of one event's publish. */
type PublishResult =
  | { kind: 'published' }
  /** NATS away, slow, electing, or the stream full: not the event's fault; it waits, uncounted. */
  | { kind: 'unreachable'; error: string }
  /** The stream or the server refused this event (too large, not permitted): counted towards parking. */
  | { kind: 'refused'; error: string };

/**
 * A refusal that belongs to the event: an API error other than "unavailable" (503: the stream full,
 * no quorum), or a permission violation. Everything else (timeouts, no responders, a closed
 * connection) is NATS being away.
 */
export function publishOutcome(error: Error): PublishResult {
  if (error instanceof JetStreamApiError && error.status !== 503)
    return {
      kind: 'refused',
      error: `${error.message} (err_code ${error.code})`,
    };
  if (error instanceof PermissionViolationError)
    return { kind: 'refused', error: error.message };
  return { kind: 'unreachable', error: error.message };
}

/**
 * Publishes the outbox to JetStream: one relay at a time across instances (a lease row), woken by
 * each commit that writes an event (`written()`) and by a timer, in batches of at most one event per
 * order so that each order's events reach the stream in sequence. A row is deleted (or marked
 * published, with EVENTS_OUTBOX_RETENTION_SECONDS) only after the stream acknowledged it; a relay
 * that dies in between publishes it again under the same Nats-Msg-Id, which the stream drops as a
 * duplicate within its window. NATS down, slow or partitioned costs the API nothing: events wait in
 * the outbox and drain in order when it returns.
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
  /**
   * Set while NATS (or Postgres) failed the last round: commits do not wake the relay then, and it
   * tries again after EVENTS_POLL_MS. Woken by each commit, it ran a round every MIN_ROUND_MS during
   * an outage, each reading up to a batch of pending rows only to count them as not published: under
   * load that was 50-90 µs of Postgres CPU per create (docs/performance.md), paid by the API for
   * rounds that could not publish anything.
   */
  private failing = false;
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
  /** NATS_URL's servers, without credentials: what a warning names. */
  private readonly servers: string;
  /** What becomes of an acknowledged event's row: deleted, or marked for the retention purge. */
  private readonly forgetPublished: string;
  /** DB_PREPARED_STATEMENTS: off behind a transaction pooler. */
  private readonly preparedStatements: boolean;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly broker: NatsBroker,
    private readonly metrics: EventsMetrics,
    @Inject(eventsConfig.KEY)
    private readonly config: ConfigType<typeof eventsConfig>,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
    @Inject(databaseConfig.KEY) database: ConfigType<typeof databaseConfig>,
  ) {
    this.preparedStatements = database.preparedStatements;
    this.enabled = config.natsServers.length > 0;
    this.wakeSubject = relayWakeSubject(config.stream);
    this.sourceJson = JSON.stringify(config.source);
    this.servers = config.natsServers.join(',');
    this.forgetPublished =
      config.outboxRetentionSeconds === 0
        ? DELETE_PUBLISHED_EVENTS
        : MARK_EVENTS_PUBLISHED;
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
      if (this.leader && !this.failing) this.wake();
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
    if (!this.enabled || this.stopped || this.failing) return;
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
        this.failing = false;
        if (await this.holdLease()) more = await this.relayOnce();
      } catch (error) {
        this.failing = true;
        this.publishFailed.warn(`events not published: ${String(error)}`);
      }
      if (this.stopped) break;
      if (this.failing) this.woken = false;
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
    // The stream first, events or not: a consumer may be waiting for it to exist.
    if (!(await this.ensureStreamOrCount())) {
      this.failing = true;
      return false;
    }
    // Under synchronous replication the statement writes WAL, so its commit, which pg waits for
    // before it answers, waits for the synchronous standby: every event it read was committed
    // before, so they are all on the standby too, and no event reaches the stream for an order a
    // failover could take back. A cancelled wait fails the round (ReplicationGuardedClient).
    const { rows } = await this.db!.query<PendingEventRow>(
      this.statement(SELECT_DUE_EVENTS, [this.config.batchSize]),
    );
    if (rows.length === 0) return false;
    // One event per order per batch: the next of an order goes once its predecessor is acknowledged.
    const orders = new Set<string>();
    const batch = rows.filter(
      (row) => !orders.has(row.order_id) && !!orders.add(row.order_id),
    );
    const outcomes = await this.publish(batch);
    const published = batch.filter((_, i) => outcomes[i].kind === 'published');
    if (this.app.testFault.kind === 'crash-after-publish' && published.length)
      process.kill(process.pid, 'SIGKILL');
    if (published.length)
      await this.db!.query(
        this.statement(this.forgetPublished, [
          published.map((r) => r.order_id),
          published.map((r) => r.sequence),
        ]),
      );
    this.metrics.published(published.length);
    await this.countRefused(batch, outcomes);
    const unreachable = outcomes.filter((o) => o.kind === 'unreachable');
    if (unreachable.length > 0) {
      this.metrics.failed(unreachable.length);
      this.publishFailed.warn(
        `${unreachable.length} of ${batch.length} events not acknowledged by the stream at ${this.servers} (NATS_URL): ${(unreachable[0] as { error: string }).error}; they stay pending and are retried`,
      );
      this.failing = true;
      return false;
    }
    return rows.length === this.config.batchSize || batch.length < rows.length;
  }

  /**
   * The events the stream refused: each counts an attempt and backs off; at
   * EVENTS_MAX_PUBLISH_ATTEMPTS it is parked (with its order's later events), logged once, counted.
   */
  private async countRefused(
    batch: PendingEventRow[],
    outcomes: PublishResult[],
  ): Promise<void> {
    const refused = batch
      .map((row, i) => ({ row, outcome: outcomes[i] }))
      .filter(({ outcome }) => outcome.kind === 'refused');
    if (refused.length === 0) return;
    this.metrics.failed(refused.length);
    const { rows } = await this.db!.query<{
      id: string;
      order_id: string;
      sequence: number;
      parked: boolean;
    }>(COUNT_REFUSED_PUBLISHES, [
      refused.map(({ row }) => row.order_id),
      refused.map(({ row }) => row.sequence),
      refused.map(({ outcome }) => (outcome as { error: string }).error),
      refused.map(({ row }) =>
        Math.min(REFUSED_RETRY_MAX_MS, REFUSED_RETRY_MS * 2 ** row.attempts),
      ),
      this.config.maxPublishAttempts,
    ]);
    const errors = new Map(
      refused.map(({ row, outcome }) => [
        row.id,
        (outcome as { error: string }).error,
      ]),
    );
    for (const row of rows.filter((r) => r.parked)) {
      this.metrics.parked(1);
      this.logger.error(
        `event ${row.id} (order ${row.order_id}, sequence ${row.sequence}) parked after ${this.config.maxPublishAttempts} refused publishes: ${errors.get(row.id)}; its order's later events wait behind it (npm run events:parked)`,
      );
    }
    if (rows.length > rows.filter((r) => r.parked).length)
      this.publishFailed.warn(
        `the stream refused ${refused.length} event(s): ${refused[0].outcome.kind === 'refused' ? refused[0].outcome.error : ''}; retried with backoff, parked after ${this.config.maxPublishAttempts} attempts`,
      );
  }

  /** Publishes each event of the batch at once; what became of each. */
  private async publish(batch: PendingEventRow[]): Promise<PublishResult[]> {
    const errors = await this.broker.publishToStream(
      batch.map((row) => {
        const headers = natsHeaders();
        headers.set('Nats-Msg-Id', row.id);
        headers.set('Content-Type', CLOUD_EVENT_CONTENT_TYPE);
        return {
          subject: row.type,
          data: cloudEventJson(row, this.sourceJson),
          headers,
        };
      }),
      this.config.publishTimeoutMs,
    );
    // A duplicate counts as published: the stream holds the event already.
    return errors.map((error) =>
      error === undefined ? { kind: 'published' } : publishOutcome(error),
    );
  }

  /** The stream is ready; or NATS is away, and the events waiting count as failed publishes. */
  private async ensureStreamOrCount(): Promise<boolean> {
    try {
      return await this.ensureStream();
    } catch (error) {
      const { rows } = await this.db!.query<{ n: number }>(COUNT_DUE_EVENTS, [
        this.config.batchSize,
      ]);
      this.metrics.failed(rows[0].n);
      throw new Error(
        `NATS at ${this.servers} (NATS_URL) is not answering: ${String(error)}; events wait in the outbox`,
        { cause: error },
      );
    }
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
        maxBytes: this.config.streamMaxBytes,
        maxMessageBytes: this.config.streamMaxMessageBytes,
        denyDeletes: this.config.streamDenyDeletes,
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

  /**
   * A statement of every round, named (prepared once per connection: the delete's parse and plan
   * cost Postgres about 60 µs a round) unless DB_PREPARED_STATEMENTS is off for a transaction pooler.
   */
  private statement(text: string, values: unknown[]): QueryConfig {
    return {
      name: this.preparedStatements ? statementName(text) : undefined,
      text,
      values,
    };
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
