import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateOrders1764400000000 implements MigrationInterface {
  name = 'CreateOrders1764400000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "orders" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "user_id" varchar(128) NOT NULL,
        "idempotency_key" varchar(255),
        "request_fingerprint" char(64),
        "status" varchar(16) NOT NULL,
        "currency" char(3) NOT NULL,
        "items" jsonb NOT NULL,
        "total_cents" bigint NOT NULL,
        "note" varchar(500),
        "created_at" timestamptz(3) NOT NULL DEFAULT now(),
        "cancelled_at" timestamptz(3),
        CONSTRAINT "orders_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "orders_status_check" CHECK ("status" IN ('created', 'cancelled')),
        CONSTRAINT "orders_total_cents_check" CHECK ("total_cents" >= 0)
      )`);
    // Partial: keys are cleared after their retention window, and cleared rows need no index entry.
    await queryRunner.query(`
      CREATE UNIQUE INDEX "orders_user_id_idempotency_key_uq"
        ON "orders" ("user_id", "idempotency_key") WHERE "idempotency_key" IS NOT NULL`);
    // Serves the newest-first keyset listing of one user's orders.
    await queryRunner.query(`
      CREATE INDEX "orders_user_id_created_at_id_idx" ON "orders" ("user_id", "created_at" DESC, "id" DESC)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "orders"`);
  }
}
