import { DataSource } from 'typeorm';
import { readDatabaseConfig } from '../../src/config/database.config';
import { buildTypeOrmOptions } from '../../src/database/typeorm-options';
import {
  createScratchDatabase,
  type ScratchDatabase,
} from './scratch-database';
import { ADMIN_DATABASE_URL } from './test-env';

/** Applies every migration to the database at `url`, as the global setup does for the run's own. */
export async function migrate(url: string): Promise<void> {
  const dataSource = new DataSource(
    buildTypeOrmOptions({
      ...readDatabaseConfig({ DATABASE_URL: url }),
      migrationsRun: false,
    }),
  );
  await dataSource.initialize();
  try {
    await dataSource.runMigrations();
  } finally {
    await dataSource.destroy();
  }
}

/**
 * A migrated database of the suite's own, for a test that changes database-wide state on purpose (a
 * table lock, role defaults): the other suites, running beside it, never see it. `drop()` removes it.
 */
export async function createOwnDatabase(
  prefix: string,
): Promise<ScratchDatabase> {
  const database = await createScratchDatabase(
    ADMIN_DATABASE_URL,
    `orders_test_${prefix}`,
  );
  await migrate(database.url);
  return database;
}
