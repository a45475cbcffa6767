export { OrderEventsConsumer } from './order-events-consumer.js';
export type {
  ConsumerLogger,
  ConsumerStats,
  OrderEventsConsumerOptions,
} from './order-events-consumer.js';
export type { OrderEventHandler } from './event-applier.js';
export { isTransientDatabaseError } from './retry.js';
export { applyInboxSchema, INBOX_SCHEMA_SQL } from './inbox-schema.js';
export {
  InvalidEventError,
  ORDER_EVENT_TYPES,
  parseOrderEvent,
} from './order-event.js';
export type {
  OrderEvent,
  OrderEventData,
  OrderEventType,
} from './order-event.js';
