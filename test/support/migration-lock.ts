import type { Client } from 'pg';
import { MIGRATION_LOCK_KEY } from '../../src/database/run-migrations';
import type { AppProcess } from './app-process';
import { until } from './until';

/** Instances waiting for the migration lock in `db`'s database (a suite beside may hold it in its own). */
export async function migrationLockWaiters(db: Client): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks
      WHERE locktype = 'advisory' AND NOT granted AND objid = $1
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [MIGRATION_LOCK_KEY],
  );
  return rows[0].n;
}

/**
 * Resolves once every one of `starts` waits for the migration lock that `db` holds; an instance that
 * fails before it queues rejects with its output instead of a timeout. Boots take seconds of CPU
 * each on a loaded machine: up to 90 s.
 */
export function untilAllQueued(
  db: Client,
  starts: Promise<AppProcess>[],
): Promise<void> {
  return Promise.race([
    until(async () => (await migrationLockWaiters(db)) === starts.length, {
      timeoutMs: 90_000,
    }),
    Promise.all(starts).then(() => {
      throw new Error('the instances started while the lock was held');
    }),
  ]);
}
