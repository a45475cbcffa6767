import type { KeyedTable } from '../database/key-purge';
import type { OrderView } from './dto/order.view';
import { ORDER_EVENT_TYPES, withOrderEvent } from '../events/order-events.sql';
import type { OrderMetadata } from './order-metadata';
import type { OrderItem, OrderStatus } from './order.entity';

/**
 * The order queries, written out. The entity still describes the table (migrations, tooling), but
 * the request paths skip TypeORM's query building and hydration: in the benchmark's profile they cost
 * more CPU than the round trip itself.
 */
const VIEW_COLUMNS =
  'id, status, currency, items, total_cents, note, metadata, created_at, paid_at, version';

const INSERT_ORDER_ROW = `INSERT INTO orders
  (user_id, idempotency_key, request_fingerprint, status, currency, items, total_cents, note, metadata)
  VALUES ($1, $2, $3, 'created', $4, $5, $6, $7, $8)`;

export const INSERT_ORDER = `${INSERT_ORDER_ROW} RETURNING id, created_at, version`;
/** With events on: the order and its `created` event in one statement. */
export const INSERT_ORDER_WITH_EVENT = withOrderEvent(
  `${INSERT_ORDER_ROW} RETURNING *`,
  ORDER_EVENT_TYPES.created,
  'id, created_at, version',
);

export const SELECT_ORDER = `SELECT ${VIEW_COLUMNS} FROM orders WHERE id = $1 AND user_id = $2`;

export const SELECT_ORDER_BY_KEY = `SELECT ${VIEW_COLUMNS}, request_fingerprint
  FROM orders WHERE user_id = $1 AND idempotency_key = $2`;

/** Newest first on (created_at, id): the index orders_user_id_created_at_id_idx serves both forms. */
export const SELECT_FIRST_PAGE = `SELECT ${VIEW_COLUMNS} FROM orders
  WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`;
export const SELECT_NEXT_PAGE = `SELECT ${VIEW_COLUMNS} FROM orders
  WHERE user_id = $1 AND (created_at, id) < ($3, $4)
  ORDER BY created_at DESC, id DESC LIMIT $2`;

/**
 * Cancels a created order, if $3 (the versions If-Match names, or NULL without a precondition) names
 * its version. No row back means nothing changed: the service reads the order to tell an order
 * already cancelled (answered as it is, whatever If-Match names: the change it asks for has happened,
 * RFC 9110 section 13.1.1, so a retry whose first answer was lost does not fail) from a paid one
 * (409), a stale If-Match (412) and an unknown one (404). The row lock orders it against a payment.
 */
const CANCEL_ORDER_ROW = `UPDATE orders
  SET status = 'cancelled', cancelled_at = now(), version = version + 1
  WHERE id = $1 AND user_id = $2 AND status = 'created'
    AND ($3::int[] IS NULL OR version = ANY($3::int[]))`;

export const CANCEL_ORDER = `${CANCEL_ORDER_ROW} RETURNING ${VIEW_COLUMNS}`;
export const CANCEL_ORDER_WITH_EVENT = withOrderEvent(
  `${CANCEL_ORDER_ROW} RETURNING *`,
  ORDER_EVENT_TYPES.cancelled,
  VIEW_COLUMNS,
);

/** The order, locked until the change's transaction ends: changes, cancels and payments queue up. */
export const LOCK_ORDER_FOR_CHANGE = `SELECT ${VIEW_COLUMNS} FROM orders
  WHERE id = $1 AND user_id = $2 FOR UPDATE`;

const UPDATE_ORDER_FIELDS_ROW = `UPDATE orders
  SET note = $3, metadata = $4, version = version + 1
  WHERE id = $1 AND user_id = $2`;

export const UPDATE_ORDER_FIELDS = `${UPDATE_ORDER_FIELDS_ROW} RETURNING ${VIEW_COLUMNS}`;
export const UPDATE_ORDER_FIELDS_WITH_EVENT = withOrderEvent(
  `${UPDATE_ORDER_FIELDS_ROW} RETURNING *`,
  ORDER_EVENT_TYPES.updated,
  VIEW_COLUMNS,
);

/**
 * A keyed PATCH claims its key first: a concurrent retry waits on the unique index until the first
 * commits, then fails and reads the first one's answer (insertOnce).
 */
export const INSERT_ORDER_CHANGE = `INSERT INTO order_changes
  (user_id, idempotency_key, request_fingerprint, order_id) VALUES ($1, $2, $3, $4)`;

export const SET_ORDER_CHANGE_RESPONSE = `UPDATE order_changes SET response = $3
  WHERE user_id = $1 AND idempotency_key = $2`;

export const SELECT_ORDER_CHANGE = `SELECT request_fingerprint, response FROM order_changes
  WHERE user_id = $1 AND idempotency_key = $2`;

export interface OrderRow {
  id: string;
  status: OrderStatus;
  currency: string;
  items: OrderItem[];
  /** bigint: node-postgres returns it as a string, kept exact until the view. */
  total_cents: string;
  note: string | null;
  metadata: OrderMetadata;
  /** ISO 8601 UTC with milliseconds, as the API shows it (OrdersDatabase's query types). */
  created_at: string;
  paid_at?: string | null;
  version: number;
  request_fingerprint?: string | null;
}

/** An order as one version: what an answer's body and ETag header show. */
export interface OrderRevision {
  order: OrderView;
  etag: string;
}

/** The ETag of an order's version: strong, and it changes with every change to the order. */
export function etagOf(version: number): string {
  return `"${version}"`;
}

/** The versions a list of strong entity tags names; tags of another form name none. */
export function versionsNamed(
  tags: readonly { weak: boolean; quoted: string }[],
): number[] {
  return tags.flatMap(({ weak, quoted }) => {
    const match = /^"([1-9][0-9]{0,8})"$/.exec(quoted);
    return !weak && match ? [Number(match[1])] : [];
  });
}

export function toRevision(row: OrderRow): OrderRevision {
  return { order: toView(row), etag: etagOf(row.version) };
}

export function toView(row: OrderRow): OrderView {
  return {
    id: row.id,
    status: row.status,
    currency: row.currency,
    items: row.items,
    totalCents: Number(row.total_cents),
    note: row.note,
    metadata: row.metadata,
    createdAt: row.created_at,
    paidAt: row.paid_at ?? null,
  };
}

/**
 * Where orders keep their idempotency keys, for the purge: the partial index
 * orders_unpurged_key_created_at_idx serves its batches. The lock id is "orders-key-purge" as a number.
 */
export const ORDERS_KEYED_TABLE: KeyedTable = {
  table: 'orders',
  idColumn: 'id',
  createdAtColumn: 'created_at',
  expire: { clear: ['idempotency_key', 'request_fingerprint'] },
  lockId: 7264_3311,
};

/** Keyed PATCHes are remembered as long as the keys of creates (IDEMPOTENCY_KEY_RETENTION_SECONDS). */
export const ORDER_CHANGES_KEYED_TABLE: KeyedTable = {
  table: 'order_changes',
  idColumn: 'id',
  createdAtColumn: 'created_at',
  expire: 'delete',
  // "order-changes-purge" as a number; each table's purge has its own.
  lockId: 7264_3313,
};
