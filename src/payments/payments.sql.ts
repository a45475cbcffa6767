import type { KeyedTable } from '../database/key-purge';
import { ORDER_EVENT_TYPES, withOrderEvent } from '../events/order-events.sql';

/**
 * The exactly-once guard: the first delivery of a webhook id inserts its row; every other copy,
 * concurrent or late, finds it (a concurrent one waits for the first's transaction, then sees it).
 */
export const INSERT_EVENT = `INSERT INTO payment_events
  (webhook_id, type, payment_id, order_id, amount_cents, currency, outcome)
  VALUES ($1, $2, $3, $4, $5, $6, 'pending')
  ON CONFLICT (webhook_id) DO NOTHING`;

export const SET_EVENT_OUTCOME = `UPDATE payment_events SET outcome = $2 WHERE webhook_id = $1`;

export const SELECT_EVENT_OUTCOME = `SELECT outcome FROM payment_events WHERE webhook_id = $1`;

/** The order, locked until the transaction ends: payments and cancellations of one order queue up. */
export const LOCK_ORDER = `SELECT status, currency, total_cents, payment_id
  FROM orders WHERE id = $1 FOR UPDATE`;

export const PAY_ORDER = `UPDATE orders
  SET status = 'paid', paid_at = now(), payment_id = $2, version = version + 1
  WHERE id = $1`;
/** With events on: the payment and the order's `paid` event in one statement. */
export const PAY_ORDER_WITH_EVENT = withOrderEvent(
  `${PAY_ORDER} RETURNING *`,
  ORDER_EVENT_TYPES.paid,
  'id',
);

/** Processed events expire after PAYMENT_EVENT_RETENTION_SECONDS (payment_events_received_at_idx). */
export const PAYMENT_EVENTS_TABLE: KeyedTable = {
  table: 'payment_events',
  idColumn: 'webhook_id',
  createdAtColumn: 'received_at',
  expire: 'delete',
  // "payment-event-purge" as a number; the orders purge has its own.
  lockId: 7264_3312,
};
