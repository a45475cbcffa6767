import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { idempotencyConfig } from '../config';
import { KeyPurgeModule } from '../database/key-purge.module';
import { EventsModule } from '../events/events.module';
import { OrdersController } from './orders.controller';
import { OrderChangesService } from './order-changes.service';
import { ORDER_CHANGES_KEYED_TABLE, ORDERS_KEYED_TABLE } from './orders.sql';
import { OrdersDatabase } from './orders-database';
import { OrdersService } from './orders.service';
import { TestFaults } from './test-faults';

@Module({
  imports: [
    EventsModule,
    KeyPurgeModule.forTable(ORDERS_KEYED_TABLE, {
      inject: idempotencyConfig.KEY,
      seconds: (config: ConfigType<typeof idempotencyConfig>) =>
        config.keyRetentionSeconds,
    }),
    KeyPurgeModule.forTable(ORDER_CHANGES_KEYED_TABLE, {
      inject: idempotencyConfig.KEY,
      seconds: (config: ConfigType<typeof idempotencyConfig>) =>
        config.keyRetentionSeconds,
    }),
  ],
  controllers: [OrdersController],
  providers: [OrdersDatabase, OrdersService, OrderChangesService, TestFaults],
})
export class OrdersModule {}
