import { DynamicModule, Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { DataSource } from 'typeorm';
import { idempotencyConfig } from '../config';
import type { KeyedTable } from './key-purge';
import { KeyPurgeService } from './key-purge.service';

/**
 * The key purge of one table: an idempotent route's module imports
 * `KeyPurgeModule.forTable({ table: 'payments', ... })` next to its unique (scope, key) index.
 */
@Module({})
export class KeyPurgeModule {
  static forTable(target: KeyedTable): DynamicModule {
    return {
      module: KeyPurgeModule,
      providers: [
        {
          provide: KeyPurgeService,
          inject: [DataSource, idempotencyConfig.KEY, SchedulerRegistry],
          useFactory: (
            db: DataSource,
            config: ConfigType<typeof idempotencyConfig>,
            scheduler: SchedulerRegistry,
          ) => new KeyPurgeService(db, config, scheduler, target),
        },
      ],
      exports: [KeyPurgeService],
    };
  }
}
