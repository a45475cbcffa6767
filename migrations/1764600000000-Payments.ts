import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Payments by webhook: an order can be paid (status, time, the payment that paid it), and every
 * verified webhook event is recorded once under its webhook id, the receiver's exactly-once guard.
 */
export class Payments1764600000000 implements MigrationInterface {
  name = 'Payments1764600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "orders"
        ADD COLUMN "paid_at" timestamptz(3),
        ADD COLUMN "payment_id" varchar(128),
        DROP CONSTRAINT "orders_status_check",
        ADD CONSTRAINT "orders_status_check" CHECK ("status" IN ('created', 'cancelled', 'paid'))`);
    await queryRunner.query(`
      CREATE TABLE "payment_events" (
        "webhook_id" varchar(255) NOT NULL,
        "type" varchar(128) NOT NULL,
        "payment_id" varchar(128),
        "order_id" uuid,
        "amount_cents" bigint,
        "currency" char(3),
        "outcome" varchar(32) NOT NULL,
        "received_at" timestamptz(3) NOT NULL DEFAULT now(),
        CONSTRAINT "payment_events_pkey" PRIMARY KEY ("webhook_id")
      )`);
    // Serves the retention purge (oldest events first) without a scan.
    await queryRunner.query(`
      CREATE INDEX "payment_events_received_at_idx" ON "payment_events" ("received_at")`);
    // The events of one order: refunds to make, support questions.
    await queryRunner.query(`
      CREATE INDEX "payment_events_order_id_idx" ON "payment_events" ("order_id")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "payment_events"`);
    await queryRunner.query(
      `UPDATE "orders" SET "status" = 'created' WHERE "status" = 'paid'`,
    );
    await queryRunner.query(`
      ALTER TABLE "orders"
        DROP CONSTRAINT "orders_status_check",
        ADD CONSTRAINT "orders_status_check" CHECK ("status" IN ('created', 'cancelled')),
        DROP COLUMN "payment_id",
        DROP COLUMN "paid_at"`);
  }
}
