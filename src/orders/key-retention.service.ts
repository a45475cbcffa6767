import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { idempotencyConfig } from '../config';

/** Advisory lock id of the purge ("orders-key-purge" as a number): one instance purges at a time. */
export const PURGE_LOCK_ID = 7264_3311;

/**
 * One batch: the oldest orders past the retention window that still hold a key. Served by the
 * partial index orders_unpurged_key_created_at_idx; SKIP LOCKED never waits on a create in flight.
 */
export const PURGE_BATCH = `WITH batch AS (
    SELECT id FROM orders
    WHERE idempotency_key IS NOT NULL
      AND created_at < now() - make_interval(secs => $1)
    ORDER BY created_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
  )
  UPDATE orders o SET idempotency_key = NULL, request_fingerprint = NULL
  FROM batch WHERE o.id = batch.id`;

/**
 * Forgets idempotency keys in Postgres after IDEMPOTENCY_KEY_RETENTION_SECONDS (the Redis entries
 * expire on their own after IDEMPOTENCY_TTL_SECONDS). Once purged, a key may be reused and makes a new
 * order. Runs every IDEMPOTENCY_PURGE_INTERVAL_SECONDS in bounded batches, each its own short
 * transaction holding a transaction-level advisory lock, so only one instance purges at a time and a
 * crash mid-purge leaves nothing locked.
 */
@Injectable()
export class KeyRetentionService
  implements OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly logger = new Logger(KeyRetentionService.name);
  private running?: Promise<number>;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(idempotencyConfig.KEY)
    private readonly config: ConfigType<typeof idempotencyConfig>,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    const timer = setInterval(() => {
      this.purge().catch((error: unknown) =>
        this.logger.warn(`key purge failed: ${String(error)}`),
      );
    }, this.config.purgeIntervalSeconds * 1000);
    timer.unref();
    this.scheduler.addInterval('idempotency-key-purge', timer);
  }

  /** The ScheduleModule clears the interval; a purge under way finishes its batch first. */
  async onApplicationShutdown(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  /** Clears expired keys batch by batch; returns how many orders were cleared (0 if another instance holds the lock). */
  purge(): Promise<number> {
    this.running ??= this.purgeAll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async purgeAll(): Promise<number> {
    let cleared = 0;
    for (;;) {
      const batch = await this.purgeBatch();
      if (batch === undefined) break; // another instance is purging
      cleared += batch;
      if (batch < this.config.purgeBatchSize) break;
    }
    if (cleared > 0)
      this.logger.log(`cleared ${cleared} expired idempotency keys`);
    return cleared;
  }

  /** undefined when another instance holds the purge lock. */
  private purgeBatch(): Promise<number | undefined> {
    return this.db.transaction(async (manager) => {
      const [{ locked }] = await manager.query<{ locked: boolean }[]>(
        'SELECT pg_try_advisory_xact_lock($1) AS locked',
        [PURGE_LOCK_ID],
      );
      if (!locked) return undefined;
      // TypeORM answers an UPDATE with [rows, rowCount].
      const [, count] = await manager.query<[unknown[], number]>(PURGE_BATCH, [
        this.config.keyRetentionSeconds,
        this.config.purgeBatchSize,
      ]);
      return count;
    });
  }
}
