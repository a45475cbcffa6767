import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { paymentsConfig } from '../config';
import { KeyPurgeModule } from '../database/key-purge.module';
import { EventsModule } from '../events/events.module';
import { PaymentWebhooksController } from './payment-webhooks.controller';
import { PAYMENT_EVENTS_TABLE } from './payments.sql';
import { PaymentsService } from './payments.service';

@Module({
  imports: [
    EventsModule,
    KeyPurgeModule.forTable(PAYMENT_EVENTS_TABLE, {
      inject: paymentsConfig.KEY,
      seconds: (config: ConfigType<typeof paymentsConfig>) =>
        config.eventRetentionSeconds,
    }),
  ],
  controllers: [PaymentWebhooksController],
  providers: [PaymentsService],
})
export class PaymentsModule {}
