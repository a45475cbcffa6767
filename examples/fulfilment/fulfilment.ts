import type { OrderEvent } from '@orders/events';
import type { PoolClient } from 'pg';

/**
 * The fulfilment service's own tables: a shipment per paid order, and a log of every event it
 * applied (in the order it applied them, by `position`), which its tests read.
 */
export const FULFILMENT_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS shipments (
  id bigserial PRIMARY KEY,
  order_id uuid NOT NULL,
  payment_event_id uuid NOT NULL,
  items jsonb NOT NULL,
  total_cents integer NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'voided')),
  created_at timestamptz NOT NULL DEFAULT now(),
  voided_at timestamptz
);
CREATE INDEX IF NOT EXISTS shipments_order_id ON shipments (order_id);
CREATE TABLE IF NOT EXISTS fulfilment_log (
  position bigserial PRIMARY KEY,
  order_id uuid NOT NULL,
  sequence integer NOT NULL,
  type text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);`;

/**
 * The effect of one order event, run by @orders/events inside the transaction that records the
 * event in the inbox: it runs once per event, and an order's events arrive in sequence. So a plain
 * INSERT is right here: no "if not exists", no unique constraint needed to stop a second shipment.
 * - paid: a shipment of the order's items;
 * - cancelled: its pending shipment, if any, is voided (cancelled before payment: there is none).
 */
export async function fulfil(event: OrderEvent, tx: PoolClient): Promise<void> {
  await tx.query(
    'INSERT INTO fulfilment_log (order_id, sequence, type) VALUES ($1, $2, $3)',
    [event.subject, event.sequence, event.type],
  );
  if (event.type === 'orders.order.paid')
    await tx.query(
      `INSERT INTO shipments (order_id, payment_event_id, items, total_cents)
       VALUES ($1, $2, $3, $4)`,
      [
        event.subject,
        event.id,
        JSON.stringify(event.data.items),
        event.data.totalCents,
      ],
    );
  else if (event.type === 'orders.order.cancelled')
    await tx.query(
      `UPDATE shipments SET status = 'voided', voided_at = now()
       WHERE order_id = $1 AND status = 'pending'`,
      [event.subject],
    );
}
