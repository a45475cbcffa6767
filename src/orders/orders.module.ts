import { Module } from '@nestjs/common';
import { KeyRetentionService } from './key-retention.service';
import { OrdersController } from './orders.controller';
import { OrdersService } from './orders.service';
import { TestFaults } from './test-faults';

@Module({
  controllers: [OrdersController],
  providers: [OrdersService, TestFaults, KeyRetentionService],
})
export class OrdersModule {}
