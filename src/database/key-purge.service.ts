import {
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { SchedulerRegistry } from '@nestjs/schedule';
import type { DataSource } from 'typeorm';
import type { idempotencyConfig } from '../config';
import { KeyedTable, purgeBatchSql } from './key-purge';

/**
 * Forgets one table's idempotency keys after IDEMPOTENCY_KEY_RETENTION_SECONDS (the Redis entries
 * expire on their own after IDEMPOTENCY_TTL_SECONDS). Once purged, a key may be reused and makes a
 * new row. Runs every IDEMPOTENCY_PURGE_INTERVAL_SECONDS in bounded batches, each its own short
 * transaction holding a transaction-level advisory lock, so only one instance purges at a time and a
 * crash mid-purge leaves nothing locked. Registered per table by `KeyPurgeModule.forTable()`.
 */
export class KeyPurgeService
  implements OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly logger: Logger;
  private readonly batchSql: string;
  private running?: Promise<number>;

  constructor(
    private readonly db: DataSource,
    private readonly config: ConfigType<typeof idempotencyConfig>,
    private readonly scheduler: SchedulerRegistry,
    private readonly target: KeyedTable,
  ) {
    this.logger = new Logger(`KeyPurge:${target.table}`);
    this.batchSql = purgeBatchSql(target);
  }

  onApplicationBootstrap(): void {
    const timer = setInterval(() => {
      this.purge().catch((error: unknown) =>
        this.logger.warn(`key purge failed: ${String(error)}`),
      );
    }, this.config.purgeIntervalSeconds * 1000);
    timer.unref();
    this.scheduler.addInterval(`key-purge:${this.target.table}`, timer);
  }

  /** The ScheduleModule clears the interval; a purge under way finishes its batch first. */
  async onApplicationShutdown(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  /** Clears expired keys batch by batch; returns how many rows were cleared (0 if another instance holds the lock). */
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
        [this.target.lockId],
      );
      if (!locked) return undefined;
      // TypeORM answers an UPDATE with [rows, rowCount].
      const [, count] = await manager.query<[unknown[], number]>(
        this.batchSql,
        [this.config.keyRetentionSeconds, this.config.purgeBatchSize],
      );
      return count;
    });
  }
}
