import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Orders become changeable: a version that every change increments (the ETag), the client's own
 * metadata, and `order_changes`, which remembers each keyed PATCH (its key, fingerprint and answer)
 * in the transaction that applied it, so that a retried PATCH is answered by the database when Redis
 * cannot, as a retried create is by the orders table's own key.
 */
export class OrderVersionsAndChanges1764800000000 implements MigrationInterface {
  name = 'OrderVersionsAndChanges1764800000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // Constant defaults: Postgres adds both without rewriting the table.
    await queryRunner.query(`
      ALTER TABLE "orders"
        ADD COLUMN "version" integer NOT NULL DEFAULT 1,
        ADD COLUMN "metadata" jsonb NOT NULL DEFAULT '{}'::jsonb`);
    await queryRunner.query(`
      CREATE TABLE "order_changes" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "user_id" varchar(128) NOT NULL,
        "idempotency_key" varchar(255) NOT NULL,
        "request_fingerprint" char(64) NOT NULL,
        "order_id" uuid NOT NULL,
        "response" jsonb,
        "created_at" timestamptz(3) NOT NULL DEFAULT now(),
        CONSTRAINT "order_changes_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "order_changes_user_id_idempotency_key_uq" UNIQUE ("user_id", "idempotency_key")
      )`);
    // Serves the retention purge (oldest first) without a scan.
    await queryRunner.query(`
      CREATE INDEX "order_changes_created_at_idx" ON "order_changes" ("created_at")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "order_changes"`);
    await queryRunner.query(`
      ALTER TABLE "orders" DROP COLUMN "metadata", DROP COLUMN "version"`);
  }
}
