import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { eventsConfig } from '../config';
import { KeyPurgeModule } from '../database/key-purge.module';
import type { KeyedTable } from '../database/key-purge';
import { NatsBroker } from '../nats/nats-broker';
import { EventsMetrics } from './events.metrics';
import { OutboxRelay } from './outbox-relay';

/**
 * Events marked published (EVENTS_OUTBOX_RETENTION_SECONDS above 0) are purged that long after their
 * publication: a pending event (published_at NULL) is never old enough, so it is never purged. At 0
 * the relay deletes each row itself, and the purge only clears rows marked under an earlier setting.
 */
const ORDER_EVENTS_TABLE: KeyedTable = {
  table: 'order_events',
  // The row's own address: its batch is locked (FOR UPDATE), so it cannot move before the delete,
  // which then reads it without an index (a TID scan). `id` has no index since OrderEventsLeanerKeys.
  idColumn: 'ctid',
  createdAtColumn: 'published_at',
  expire: 'delete',
  // "order-events-purge" as a number; each table's purge has its own.
  lockId: 7264_3314,
};

/** Order events: the relay from the outbox (written by the orders and payments modules) to JetStream. */
@Module({
  imports: [
    KeyPurgeModule.forTable(ORDER_EVENTS_TABLE, {
      inject: eventsConfig.KEY,
      seconds: (config: ConfigType<typeof eventsConfig>) =>
        config.outboxRetentionSeconds,
    }),
  ],
  providers: [NatsBroker, EventsMetrics, OutboxRelay],
  // The orders and payments modules tell the relay of each commit that wrote an event.
  exports: [OutboxRelay],
})
export class EventsModule {}
