/**
 * The outbox side of order events, in SQL: each event row is written by the statement that makes the
 * change (a CTE around it), so that a change and its announcement commit together, in one round trip.
 */
export const ORDER_EVENT_TYPES = {
  created: 'orders.order.created',
  updated: 'orders.order.updated',
  cancelled: 'orders.order.cancelled',
  paid: 'orders.order.paid',
} as const;

export type OrderEventType =
  (typeof ORDER_EVENT_TYPES)[keyof typeof ORDER_EVENT_TYPES];

const UTC_MILLIS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/**
 * An event's data: the order as the API shows it (toView in orders.sql.ts; an e2e test checks that
 * the two agree) plus its userId, from a row of orders named `o`.
 */
export const ORDER_EVENT_DATA = `jsonb_build_object(
    'id', o.id, 'status', o.status, 'currency', o.currency, 'items', o.items,
    'totalCents', o.total_cents, 'note', o.note, 'metadata', o.metadata,
    'createdAt', to_char(o.created_at AT TIME ZONE 'UTC', ${UTC_MILLIS}),
    'paidAt', CASE WHEN o.paid_at IS NULL THEN NULL
      ELSE to_char(o.paid_at AT TIME ZONE 'UTC', ${UTC_MILLIS}) END,
    'userId', o.user_id)`;

/**
 * `change` (an INSERT or UPDATE of orders ending in `RETURNING *`) and, for each row it returns
 * where `when` holds, the event `type` whose sequence is the order's version after the change. The
 * statement returns `returning` of what `change` returns: the columns its events-off twin returns,
 * no more (every extra column is parsed on the hot path). The primary key (order_id, sequence) makes
 * a second event for one version impossible, whatever the caller: every change increments the
 * version, so a conflict would be a bug, and it fails the change (23505) rather than lose its event
 * in silence, as the `ON CONFLICT DO NOTHING` before did (whose speculative insertion also cost
 * every event one more index probe and WAL record).
 */
export function withOrderEvent(
  change: string,
  type: OrderEventType,
  returning: string,
  when = 'TRUE',
): string {
  return `WITH o AS (${change}),
  event AS (
    INSERT INTO order_events (order_id, user_id, type, sequence, data)
    SELECT o.id, o.user_id, '${type}', o.version, ${ORDER_EVENT_DATA}
    FROM o WHERE ${when})
  SELECT ${returning} FROM o`;
}

/** The relay's lease: taken when free or expired, renewed by its holder; no row back means not ours. */
export const ACQUIRE_RELAY_LEASE = `UPDATE order_events_relay
  SET holder = $1, expires_at = now() + make_interval(secs => $2)
  WHERE name = 'relay' AND (holder = $1 OR expires_at < now())
  RETURNING holder`;

export const RELEASE_RELAY_LEASE = `UPDATE order_events_relay
  SET holder = NULL, expires_at = 'epoch' WHERE name = 'relay' AND holder = $1`;

/**
 * The oldest `$1` due events, in the order they were written: the function order_events_due
 * (migration OrderEventsDueFunction), which keeps its plan per connection, scans the pending index
 * without a bitmap, leaves out held events with their order's later ones, and takes the barrier a
 * synchronous standby needs. Read there why each.
 */
export const SELECT_DUE_EVENTS = 'SELECT * FROM order_events_due($1)';

/** How many events a round would have tried to publish (at most `$1`): NATS was away for them. */
export const COUNT_DUE_EVENTS = `SELECT count(*)::int AS n FROM (SELECT 1 FROM order_events
  WHERE published_at IS NULL AND parked_at IS NULL
    AND (next_attempt_at IS NULL OR next_attempt_at <= now()) LIMIT $1) due`;

/**
 * Publishes the stream refused (the events of orders `$1` at sequences `$2`, by the primary key):
 * one more attempt counted with its reason (`$3`), the next one after `$4` ms, and parked once
 * `$5` attempts were refused.
 */
export const COUNT_REFUSED_PUBLISHES = `UPDATE order_events e SET
    publish_attempts = e.publish_attempts + 1,
    next_attempt_at = now() + make_interval(secs => r.delay_ms / 1000.0),
    last_error = r.error,
    parked_at = CASE WHEN e.publish_attempts + 1 >= $5 THEN now() END
  FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[]) AS r(order_id, sequence, error, delay_ms)
  WHERE e.order_id = r.order_id AND e.sequence = r.sequence AND e.published_at IS NULL
  RETURNING e.id, e.order_id, e.sequence, e.parked_at IS NOT NULL AS parked`;

/** Parked events (oldest first) with the reason, and the pending events each one holds back. */
export const SELECT_PARKED = `SELECT e.id, e.order_id, e.sequence, e.type, e.publish_attempts,
    e.last_error, e.parked_at,
    (SELECT count(*)::int FROM order_events l WHERE l.order_id = e.order_id
      AND l.published_at IS NULL AND l.sequence > e.sequence) AS held_back
  FROM order_events e WHERE e.parked_at IS NOT NULL AND e.published_at IS NULL
  ORDER BY e.position LIMIT $1`;

/** Requeues parked events (all when `$1` is null): attempts start again, and the relay picks them up. */
export const REQUEUE_PARKED = `UPDATE order_events SET parked_at = NULL, publish_attempts = 0,
    next_attempt_at = NULL
  WHERE parked_at IS NOT NULL AND published_at IS NULL AND ($1::uuid[] IS NULL OR id = ANY($1::uuid[]))
  RETURNING id`;

/**
 * Deletes the events of orders `$1` at sequences `$2` (by the primary key), which the stream
 * acknowledged: the default (EVENTS_OUTBOX_RETENTION_SECONDS=0). A delete writes one small WAL record
 * and no index entry; the mark below writes a whole new row version and an entry in every index (it
 * changes `published_at`, which the partial indexes read), and the purge deletes it later anyway.
 */
export const DELETE_PUBLISHED_EVENTS = `DELETE FROM order_events e
  USING unnest($1::uuid[], $2::int[]) AS p(order_id, sequence)
  WHERE e.order_id = p.order_id AND e.sequence = p.sequence AND e.published_at IS NULL`;

/** Marks the events of orders `$1` at sequences `$2` published, for the purge to delete after a retention. */
export const MARK_EVENTS_PUBLISHED = `UPDATE order_events e SET published_at = now()
  FROM unnest($1::uuid[], $2::int[]) AS p(order_id, sequence)
  WHERE e.order_id = p.order_id AND e.sequence = p.sequence AND e.published_at IS NULL`;

export const SELECT_BACKLOG = `SELECT count(*)::int AS pending,
    COALESCE(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_seconds
  FROM order_events WHERE published_at IS NULL`;

/**
 * A pending event as the relay reads it: `data` as JSON text and `time` already formatted, so that
 * the relay builds each message without parsing and re-serialising what Postgres wrote.
 */
export interface PendingEventRow {
  id: string;
  order_id: string;
  type: OrderEventType;
  sequence: number;
  /** The order after the change, plus its userId: JSON text. */
  data: string;
  /** ISO 8601 UTC with milliseconds. */
  time: string;
  /** Publishes of it the stream refused so far. */
  attempts: number;
}
