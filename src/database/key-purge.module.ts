import { DynamicModule, InjectionToken, Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { DataSource } from 'typeorm';
import { idempotencyConfig } from '../config';
import type { KeyedTable } from './key-purge';
import { KeyPurgeService } from './key-purge.service';

/** Where a table's retention window comes from: a provider (a config namespace) and how to read it. */
export interface RetentionSource<T> {
  inject: InjectionToken;
  seconds: (config: T) => number;
}

/** The DI token of one table's purge (every table has its own service and advisory lock). */
export function keyPurgeToken(table: string): string {
  return `KeyPurgeService:${table}`;
}

/**
 * The retention purge of one table: a module imports
 * `KeyPurgeModule.forTable(PAYMENT_EVENTS_TABLE, { inject: paymentsConfig.KEY, seconds: (c) => ... })`
 * next to its table. Interval and batch size are the IDEMPOTENCY_PURGE_* settings, shared by all.
 */
@Module({})
export class KeyPurgeModule {
  static forTable<T>(
    target: KeyedTable,
    retention: RetentionSource<T>,
  ): DynamicModule {
    return {
      module: KeyPurgeModule,
      providers: [
        {
          provide: keyPurgeToken(target.table),
          inject: [
            DataSource,
            idempotencyConfig.KEY,
            SchedulerRegistry,
            retention.inject,
          ],
          useFactory: (
            db: DataSource,
            config: ConfigType<typeof idempotencyConfig>,
            scheduler: SchedulerRegistry,
            source: T,
          ) =>
            new KeyPurgeService(
              db,
              config,
              scheduler,
              target,
              retention.seconds(source),
            ),
        },
      ],
      exports: [keyPurgeToken(target.table)],
    };
  }
}
