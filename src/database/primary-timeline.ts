import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { databaseConfig } from '../config';

/**
 * The primary's timeline: 1 on a database that never failed over, one more at each promotion of a
 * standby (Patroni's failovers and switchovers). The first 8 hex digits of the current WAL file's
 * name; pg_current_wal_lsn() fails on a standby, so a read-only node is no answer.
 */
const TIMELINE = `SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS timeline`;
const CHECK_EVERY_MS = 1000;
const RECONNECT_AFTER_MS = 250;

/**
 * Which history of the database the Redis fast path may trust. With asynchronous replication a
 * failover can lose commits the service already acknowledged, and their responses stay in Redis:
 * served as replays, they would name orders the new primary does not have. So the idempotency
 * storage keys carry the timeline (`keyPrefix()`): after a promotion every entry stored before it is
 * unreachable, and each retry goes to the database, which answers from the order row if the new
 * primary has it and makes the order if it does not. Timeline 1 keeps the plain `idem:` prefix, so a
 * database that never failed over keeps every entry across this change.
 *
 * The timeline is watched on a connection of its own (TCP keepalive, re-read every second). While
 * it is unknown (that connection lost: a failover, a network cut, Postgres down) the prefix is one
 * no entry has (fresh each time), so no replay is served from Redis until a primary says which
 * history is current: a replay during an outage could name an order a failover in progress is
 * taking back.
 */
@Injectable()
export class PrimaryTimeline
  implements OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly logger = new Logger('Database');
  private timeline: number | undefined;
  private unknownPrefix = unknownPrefix();
  private client: Client | undefined;
  private stopped = false;
  private watching: Promise<void> | undefined;

  constructor(
    @Inject(databaseConfig.KEY)
    private readonly config: ConfigType<typeof databaseConfig>,
  ) {}

  /** The idempotency storage's key prefix for the history the database is on now. */
  keyPrefix(): string {
    if (this.timeline === undefined) return this.unknownPrefix;
    return this.timeline === 1 ? 'idem:' : `idem:t${this.timeline}:`;
  }

  /** The current timeline, or undefined while no primary has answered since the last loss. */
  current(): number | undefined {
    return this.timeline;
  }

  async onApplicationBootstrap(): Promise<void> {
    // The first answer before the first request, when the database answers in time at all.
    const first = this.readOnce().catch(() => undefined);
    this.watching = first.then(() => this.watch());
    await first;
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.client?.end().catch(() => undefined);
    await this.watching;
  }

  private async watch(): Promise<void> {
    while (!this.stopped) {
      await sleep(this.client ? CHECK_EVERY_MS : RECONNECT_AFTER_MS);
      if (!this.stopped) await this.readOnce().catch(() => undefined);
    }
  }

  private async readOnce(): Promise<void> {
    try {
      this.client ??= await this.connect();
      const { rows } = await this.client.query<{ timeline: number }>(TIMELINE);
      this.learn(rows[0].timeline);
    } catch (error) {
      this.forget();
      const broken = this.client;
      this.client = undefined;
      await broken?.end().catch(() => undefined);
      throw error;
    }
  }

  private learn(timeline: number): void {
    if (timeline !== this.timeline && this.timeline !== undefined)
      this.logger.warn(
        `the database is on timeline ${timeline} (was ${this.timeline}): a failover; idempotency entries stored before it are no longer served from Redis`,
      );
    this.timeline = timeline;
  }

  private forget(): void {
    if (this.timeline !== undefined) this.unknownPrefix = unknownPrefix();
    this.timeline = undefined;
  }

  private async connect(): Promise<Client> {
    const client = new Client({
      connectionString: this.config.url,
      connectionTimeoutMillis: this.config.connectTimeoutMs,
      query_timeout: this.config.connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 5000,
      application_name: 'orders-timeline',
    });
    client.on('error', () => this.forget());
    client.on('end', () => {
      this.forget();
      if (this.client === client) this.client = undefined;
    });
    await client.connect();
    return client;
  }
}

function unknownPrefix(): string {
  return `idem:unknown-${randomUUID()}:`;
}
