import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A payment pays one order: the database refuses a second order with the same payment_id, so two
 * webhooks racing to pay different orders with one payment cannot both win. A database that already
 * holds such pairs (the bug this closes) stops the migration with a message naming how many: each is
 * money to refund by hand, not something a migration may decide.
 */
export class OnePaymentOneOrder1764700000000 implements MigrationInterface {
  name = 'OnePaymentOneOrder1764700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    const [{ reused }] = (await queryRunner.query(`
      SELECT count(*)::int AS reused FROM (
        SELECT payment_id FROM "orders" WHERE payment_id IS NOT NULL
        GROUP BY payment_id HAVING count(*) > 1) AS shared`)) as {
      reused: number;
    }[];
    if (reused > 0)
      throw new Error(
        `${reused} payment ids each paid more than one order: refund them and clear payment_id on all but one order each, then migrate again`,
      );
    await queryRunner.query(`
      CREATE UNIQUE INDEX "orders_payment_id_key" ON "orders" ("payment_id")
        WHERE "payment_id" IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "orders_payment_id_key"`);
  }
}
