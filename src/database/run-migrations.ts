import { DataSource } from 'typeorm';
import type { DatabaseConfig } from '../config/database.config';
import { buildTypeOrmOptions } from './typeorm-options';

/** DB_MIGRATIONS_RUN is on but no compiled migration exists (e.g. dist/ built without them). */
export class MissingMigrationsError extends Error {
  constructor() {
    super(
      'DB_MIGRATIONS_RUN is true but no migrations were found in dist/migrations: run npm run build (it compiles migrations/) or set DB_MIGRATIONS_RUN=false',
    );
    this.name = 'MissingMigrationsError';
  }
}

/** How many migrations this process applied at start-up (undefined: it did not run them). */
export const migrationsAppliedAtStartup: { count?: number } = {};

/** pg_advisory_lock key of the migration run: any constant shared by every instance ("orders-migrate"). */
export const MIGRATION_LOCK_KEY = 726_351_301;

/**
 * Runs pending migrations while holding an advisory lock, so that instances started together on a
 * fresh database migrate one after another: the first applies them, the others find nothing left
 * to do. Without it, two instances race to create the same types and tables and one fails on
 * `duplicate key ... pg_type_typname_nsp_index`.
 *
 * The lock is transaction-level, held by an open transaction on a connection of its own: through a
 * transaction pooler a session-level lock would be taken on one server connection and released (or
 * not) on another, and stay held by a pooled connection forever. Runs on a small DataSource of its
 * own without `lock_timeout`: a migration may wait for a busy table, the request path may not.
 */
export async function runMigrationsExclusively(
  config: DatabaseConfig,
): Promise<number> {
  const migrator = new DataSource(
    buildTypeOrmOptions({
      ...config,
      migrationsRun: false,
      poolSize: 2,
      lockTimeoutMs: 0,
    }),
  );
  await migrator.initialize();
  if (migrator.migrations.length === 0) {
    await migrator.destroy();
    // Without this check the app would start on an empty schema and answer every order route 500.
    throw new MissingMigrationsError();
  }
  const lockHolder = migrator.createQueryRunner();
  try {
    await lockHolder.connect();
    await lockHolder.startTransaction();
    // Through a transaction pooler the timeouts are the role's defaults (applyRoleTimeouts), not
    // the zero asked for above: an instance waiting here while another applies the migrations
    // would give up after DB_LOCK_TIMEOUT_MS and fail to start. SET LOCAL ends with the transaction,
    // so it never reaches whoever gets this server session next.
    await lockHolder.query(
      'SET LOCAL lock_timeout = 0; SET LOCAL statement_timeout = 0',
    );
    await lockHolder.query('SELECT pg_advisory_xact_lock($1)', [
      MIGRATION_LOCK_KEY,
    ]);
    try {
      const applied = await migrator.runMigrations({ transaction: 'each' });
      migrationsAppliedAtStartup.count = applied.length;
      return applied.length;
    } finally {
      await lockHolder.commitTransaction();
    }
  } finally {
    await lockHolder.release();
    await migrator.destroy();
  }
}
