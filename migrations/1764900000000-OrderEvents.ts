import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The transactional outbox: one row per order event, written in the transaction that makes the
 * change it describes, published to NATS JetStream by the relay, marked once the stream acknowledged
 * it. `position` orders the relay's batches; (order_id, sequence) is the order's own history, its
 * version after the change.
 */
export class OrderEvents1764900000000 implements MigrationInterface {
  name = 'OrderEvents1764900000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "order_events" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "position" bigserial NOT NULL,
        "order_id" uuid NOT NULL,
        "user_id" varchar(128) NOT NULL,
        "type" varchar(64) NOT NULL,
        "sequence" integer NOT NULL,
        "data" jsonb NOT NULL,
        "created_at" timestamptz(3) NOT NULL DEFAULT now(),
        "published_at" timestamptz(3),
        CONSTRAINT "order_events_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "order_events_order_id_sequence_key" UNIQUE ("order_id", "sequence")
      )`);
    // The relay's backlog, oldest first, without reading what is already published.
    await queryRunner.query(`
      CREATE INDEX "order_events_pending_idx" ON "order_events" ("position")
        WHERE "published_at" IS NULL`);
    // Wakes the relay at commit (LISTEN order_events); one notification per statement, merged per
    // transaction by Postgres. The relay also polls, for a connection that cannot LISTEN (a pooler).
    await queryRunner.query(`
      CREATE FUNCTION "order_events_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('order_events', '');
        RETURN NULL;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER "order_events_notify" AFTER INSERT ON "order_events"
        FOR EACH STATEMENT EXECUTE FUNCTION "order_events_notify"()`);
    // Who relays: one instance at a time holds the lease, renewing it; another takes over once it
    // expires (a lease row rather than an advisory lock, so that it works through a transaction pooler).
    await queryRunner.query(`
      CREATE TABLE "order_events_relay" (
        "name" varchar(64) NOT NULL,
        "holder" varchar(128),
        "expires_at" timestamptz(3) NOT NULL DEFAULT 'epoch',
        CONSTRAINT "order_events_relay_pkey" PRIMARY KEY ("name")
      )`);
    await queryRunner.query(
      `INSERT INTO "order_events_relay" ("name") VALUES ('relay')`,
    );
    // The retention purge of published rows.
    await queryRunner.query(`
      CREATE INDEX "order_events_published_at_idx" ON "order_events" ("published_at")
        WHERE "published_at" IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "order_events_relay"`);
    await queryRunner.query(`DROP TABLE "order_events"`);
    await queryRunner.query(`DROP FUNCTION "order_events_notify"()`);
  }
}
