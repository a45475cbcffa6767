import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The relay cannot be blocked by one event: each pending event counts the publishes the stream
 * refused, waits `next_attempt_at` before the next, and after EVENTS_MAX_PUBLISH_ATTEMPTS is parked
 * (`parked_at`, with the reason in `last_error`), holding back only its own order's later events.
 * The partial index holds the events held back (parked, or refused and waiting out a backoff): it
 * is empty while the stream refuses nothing, and the relay's "is this order held back" probe costs
 * one lookup in it per pending row.
 */
export class OrderEventsParking1765100000000 implements MigrationInterface {
  name = 'OrderEventsParking1765100000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "order_events"
        ADD COLUMN "publish_attempts" integer NOT NULL DEFAULT 0,
        ADD COLUMN "next_attempt_at" timestamptz(3),
        ADD COLUMN "parked_at" timestamptz(3),
        ADD COLUMN "last_error" text`);
    await queryRunner.query(`
      CREATE INDEX "order_events_held_idx" ON "order_events" ("order_id", "sequence")
        WHERE "published_at" IS NULL
          AND ("parked_at" IS NOT NULL OR "next_attempt_at" IS NOT NULL)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "order_events_held_idx"`);
    await queryRunner.query(`
      ALTER TABLE "order_events"
        DROP COLUMN "publish_attempts", DROP COLUMN "next_attempt_at",
        DROP COLUMN "parked_at", DROP COLUMN "last_error"`);
  }
}
