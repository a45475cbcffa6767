import { Module } from '@nestjs/common';
import { OrdersController } from './orders.controller';
import { OrdersService } from './orders.service';
import { TestFaults } from './test-faults';

@Module({
  controllers: [OrdersController],
  providers: [OrdersService, TestFaults],
})
export class OrdersModule {}
