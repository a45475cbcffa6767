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
 * Expires one table's rows after its retention window: idempotency keys after
 * IDEMPOTENCY_KEY_RETENTION_SECONDS (once purged, a key may be reused and makes a new row), processed
 * webhook events after PAYMENT_EVENT_RETENTION_SECONDS. Runs every IDEMPOTENCY_PURGE_INTERVAL_SECONDS
 * in batches of IDEMPOTENCY_PURGE_BATCH_SIZE, each its own short transaction holding a
 * transaction-level advisory lock, so only one instance purges a table at a time and a crash
 * mid-purge leaves nothing locked. Registered per table by `KeyPurgeModule.forTable()`.
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
    private readonly retentionSeconds: number,
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

  /** Expires rows batch by batch; returns how many (0 if another instance holds the lock). */
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
      this.logger.log(`expired ${cleared} rows past their retention window`);
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
        [this.retentionSeconds, this.config.purgeBatchSize],
      );
      return count;
    });
  }
}
