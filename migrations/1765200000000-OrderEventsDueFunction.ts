import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The relay's read of due events as a function: PL/pgSQL plans its query once per connection and
 * keeps the plan, where the relay's simple-protocol transaction (BEGIN; SET LOCAL; the barrier; the
 * query; COMMIT) was parsed and planned again at every round: 280 µs of Postgres CPU a round against
 * 90 (docs/performance.md). One statement, no named prepared statement, so it works through a
 * transaction pooler too. What the transaction did, the function does:
 *
 * - `SET enable_bitmapscan = off` for its own run: a plain index scan of order_events_pending_idx
 *   marks the entries of published rows dead as it passes them; a bitmap scan, which the planner
 *   picks when few rows are pending, reads every one of them at every round until a vacuum.
 * - the barrier: under synchronous replication (Patroni sets synchronous_standby_names) it writes a
 *   transactional WAL record (an empty logical message), so that the statement's commit, which
 *   node-postgres waits for before it answers, waits for the standby to have everything up to it:
 *   an event the relay read, even one whose own commit stopped waiting for the standby (a cancel),
 *   is replicated before it is published. A transaction id alone was not enough: Postgres waits for
 *   the standby only at the commit of a transaction that wrote WAL, and assigning an id writes none
 *   (the relay's `SELECT pg_current_xact_id()` before this never waited; the test now proves it).
 * - held events are left out with every later event of their order (the parking migration).
 */
export class OrderEventsDueFunction1765200000000 implements MigrationInterface {
  name = 'OrderEventsDueFunction1765200000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION "order_events_due"("batch" integer)
        RETURNS TABLE ("id" uuid, "order_id" uuid, "type" varchar, "sequence" integer,
          "data" text, "time" text, "attempts" integer)
        LANGUAGE plpgsql
        SET enable_bitmapscan = off
      AS $$
      #variable_conflict use_column
      BEGIN
        IF current_setting('synchronous_standby_names') <> '' THEN
          PERFORM pg_logical_emit_message(true, 'orders.relay', '');
        END IF;
        RETURN QUERY
          SELECT e.id, e.order_id, e.type, e.sequence, e.data::text,
            to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            e.publish_attempts
          FROM order_events e WHERE e.published_at IS NULL AND e.parked_at IS NULL
            AND (e.next_attempt_at IS NULL OR e.next_attempt_at <= now())
            AND NOT EXISTS (SELECT 1 FROM order_events h WHERE h.order_id = e.order_id
              AND h.published_at IS NULL AND h.sequence < e.sequence
              AND (h.parked_at IS NOT NULL OR h.next_attempt_at > now()))
          ORDER BY e.position LIMIT "batch";
      END $$`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION "order_events_due"(integer)`);
  }
}
