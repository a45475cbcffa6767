import type { components } from './generated/openapi.js';

type Schemas = components['schemas'];

/** An order as the service returns it. */
export type Order = Schemas['OrderView'];
/** One line of an order. */
export type OrderItem = Schemas['OrderItemDto'];
/** What `createOrder` sends: currency, 1 to 100 items, an optional note. */
export type CreateOrderInput = Schemas['CreateOrderDto'];
/** One page of `listOrders`: newest first; `nextCursor` is null on the last page. */
export type OrderPage = Schemas['OrderPage'];

/** `createOrder`'s result: the order, and whether this answer was a replay of an earlier attempt's. */
export type CreatedOrder = Order & {
  /**
   * True when the service answered with the response it had stored for this key: an earlier attempt
   * (or an earlier call with the same key) created the order. The order is the same either way.
   */
  replayed: boolean;
};
