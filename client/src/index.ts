export { OrdersClient } from './orders-client.js';
export type {
  CallOptions,
  CancelOrderOptions,
  CreateOrderOptions,
  UpdateOrderOptions,
  OrdersClientOptions,
  RetryEvent,
} from './orders-client.js';
export { OrdersApiError, OrdersNetworkError } from './errors.js';
export type { ErrorDetail } from './errors.js';
export {
  fullJitterDelayMs,
  rateLimitedWaitMs,
  retryAfterMs,
  retryReasonOf,
} from './retry-policy.js';
export type { RetryReason } from './retry-policy.js';
export type {
  CreatedOrder,
  CreateOrderInput,
  Order,
  OrderItem,
  OrderPage,
  OrderPatch,
  UpdatedOrder,
  VersionedOrder,
} from './types.js';
export type { components, paths } from './generated/openapi.js';
