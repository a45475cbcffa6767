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
/**
 * What `updateOrder` sends: a JSON Merge Patch of `note` and `metadata` (a member sets, `null`
 * deletes, an absent member stays).
 */
export type OrderPatch = Schemas['UpdateOrderDto'];

/** An order and its version: pass `etag` as `ifMatch` to change or cancel exactly this version. */
export type VersionedOrder = Order & {
  /** The order's strong ETag, e.g. `"3"`; it changes with every change to the order. */
  etag: string;
};

/** `updateOrder`'s result: the changed order, and whether this answer was a replay. */
export type UpdatedOrder = VersionedOrder & {
  /** True when the service answered a retry with the first attempt's stored answer. */
  replayed: boolean;
};

/** `createOrder`'s result: the order, and whether this answer was a replay of an earlier attempt's. */
export type CreatedOrder = VersionedOrder & {
  /**
   * True when the service answered with the response it had stored for this key: an earlier attempt
   * (or an earlier call with the same key) created the order. The order is the same either way.
   */
  replayed: boolean;
};
