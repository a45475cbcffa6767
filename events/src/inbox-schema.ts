import type { Pool } from 'pg';

/**
 * The consumer side's tables, in the consumer's own database. Every row is keyed by the consumer's
 * name, so several consumers (fulfilment, accounting, ...) can share one database.
 * - `order_events_inbox`: each event id applied (or dead-lettered) once per consumer. The primary
 *   key is what turns a redelivery into a no-op.
 * - `order_events_positions`: the last sequence applied per order, which keeps each order's events
 *   in order, and still recognises an old redelivery after its inbox row was purged.
 * - `order_events_failures`: handler failures counted per event, across restarts.
 * - `order_events_dead_letters`: what could not be applied, with the error and the message's raw
 *   bytes, for a person to look at, requeue or purge (DeadLetters).
 */
export const INBOX_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS order_events_inbox (
  consumer text NOT NULL,
  event_id uuid NOT NULL,
  order_id uuid NOT NULL,
  sequence integer NOT NULL,
  type text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);
CREATE TABLE IF NOT EXISTS order_events_positions (
  consumer text NOT NULL,
  order_id uuid NOT NULL,
  sequence integer NOT NULL,
  PRIMARY KEY (consumer, order_id)
);
CREATE TABLE IF NOT EXISTS order_events_failures (
  consumer text NOT NULL,
  event_id uuid NOT NULL,
  failures integer NOT NULL,
  last_error text NOT NULL,
  PRIMARY KEY (consumer, event_id)
);
CREATE TABLE IF NOT EXISTS order_events_dead_letters (
  consumer text NOT NULL,
  stream_sequence bigint NOT NULL,
  subject text NOT NULL,
  event_id uuid,
  order_id uuid,
  sequence integer,
  deliveries integer NOT NULL,
  error text NOT NULL,
  payload bytea NOT NULL,
  dead_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, stream_sequence)
);
DO $$ BEGIN
  -- Before 0.2 the payload was text, which cannot hold every byte sequence (a NUL, invalid UTF-8).
  IF (SELECT data_type FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = 'order_events_dead_letters'
        AND column_name = 'payload') = 'text' THEN
    ALTER TABLE order_events_dead_letters
      ALTER COLUMN payload TYPE bytea USING convert_to(payload, 'UTF8');
  END IF;
END $$;`;

/** An arbitrary constant: one process at a time creates the tables (CREATE IF NOT EXISTS races). */
const SCHEMA_LOCK = 7_244_310_027;

/**
 * Creates the inbox tables if they are missing. Safe to call from every process at start-up; a
 * consumer that runs migrations of its own can take INBOX_SCHEMA_SQL into one instead.
 *
 * @example
 * await applyInboxSchema(pool);
 */
export async function applyInboxSchema(pool: Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await client.query(INBOX_SCHEMA_SQL);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
