import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { idempotencyConfig } from '../config';
import { KeyPurgeModule } from '../database/key-purge.module';
import { OrdersController } from './orders.controller';
import { ORDERS_KEYED_TABLE } from './orders.sql';
import { OrdersService } from './orders.service';
import { TestFaults } from './test-faults';

@Module({
  imports: [
    KeyPurgeModule.forTable(ORDERS_KEYED_TABLE, {
      inject: idempotencyConfig.KEY,
      seconds: (config: ConfigType<typeof idempotencyConfig>) =>
        config.keyRetentionSeconds,
    }),
  ],
  controllers: [OrdersController],
  providers: [OrdersService, TestFaults],
})
export class OrdersModule {}
