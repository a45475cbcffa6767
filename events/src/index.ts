export { OrderEventsConsumer } from './order-events-consumer.js';
export type {
  ConsumerLogger,
  ConsumerStats,
  OrderEventsConsumerOptions,
} from './order-events-consumer.js';
export type { OrderEventHandler } from './event-applier.js';
export { isTransientDatabaseError } from './retry.js';
export { applyInboxSchema, INBOX_SCHEMA_SQL } from './inbox-schema.js';
export { DeadLetters } from './dead-letters.js';
export type {
  DeadLetterRow,
  DeadLettersOptions,
  RequeueResult,
} from './dead-letters.js';
export {
  natsConnectOptions,
  NatsSettingError,
  redactUrl,
} from './nats-options.js';
export type { NatsSettings } from './nats-options.js';
export {
  InvalidEventError,
  MAX_EVENT_SEQUENCE,
  ORDER_EVENT_TYPES,
  parseOrderEvent,
} from './order-event.js';
export type {
  EventProvenance,
  OrderEvent,
  OrderEventData,
  OrderEventType,
} from './order-event.js';
