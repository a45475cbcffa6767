import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The relay is woken by the instances themselves now (in process, or one core NATS message), not by
 * a NOTIFY from each commit: a notifying commit takes a database-wide lock that serialises commits,
 * which cost the creates a sixth of their rate with events on.
 */
export class OrderEventsWakeWithoutNotify1765000000000 implements MigrationInterface {
  name = 'OrderEventsWakeWithoutNotify1765000000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP TRIGGER IF EXISTS "order_events_notify" ON "order_events"`,
    );
    await queryRunner.query(`DROP FUNCTION IF EXISTS "order_events_notify"()`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION "order_events_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('order_events', '');
        RETURN NULL;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER "order_events_notify" AFTER INSERT ON "order_events"
        FOR EACH STATEMENT EXECUTE FUNCTION "order_events_notify"()`);
  }
}
