import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Serves the key-retention purge: finds the oldest orders that still hold an idempotency key without
 * scanning the table. Partial, so it only ever holds the retention window's rows.
 */
export class IndexUnpurgedKeys1764500000000 implements MigrationInterface {
  name = 'IndexUnpurgedKeys1764500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE INDEX "orders_unpurged_key_created_at_idx"
        ON "orders" ("created_at") WHERE "idempotency_key" IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "orders_unpurged_key_created_at_idx"`);
  }
}
