import pg from 'pg';
import { ReplicationGuardedClient } from '../src/database/replication-guarded-client';
import { ADMIN_DATABASE_URL } from './support/test-env';
import { until } from './support/until';

/**
 * Every pooled connection of the app is a ReplicationGuardedClient. A backend terminated while its
 * client is checked out and between two statements (what a switchover does to every session) must
 * not kill the process: the client turns unusable, and the pool drops it when it comes back.
 */
describe('ReplicationGuardedClient', () => {
  it('survives its backend being terminated between two statements while nobody listens; the pool drops it', async () => {
    const pool = new pg.Pool({
      connectionString: ADMIN_DATABASE_URL,
      Client: ReplicationGuardedClient,
      max: 1,
    });
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    try {
      // Checked out with no listener of the holder's own: only the client's.
      const client = await pool.connect();
      // What an 'error' emitted on it did: an emit nobody listens to throws, from a socket callback,
      // which is the uncaught exception that killed the app.
      const emitted: { code?: string }[] = [];
      let threw: unknown;
      const emit = client.emit.bind(client);
      client.emit = ((event: string, ...args: unknown[]) => {
        if (event === 'error') emitted.push(args[0] as { code?: string });
        try {
          return emit(event, ...args);
        } catch (error) {
          threw = error;
          return false;
        }
      }) as typeof client.emit;
      const [{ pid }] = (
        await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      ).rows;
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      // Postgres's FATAL (57P01) reaches the client while no query of it runs.
      await until(() => emitted.some((error) => error.code === '57P01'));
      expect(threw).toBeUndefined();
      await expect(client.query('SELECT 1')).rejects.toThrow();
      client.release(new Error('its backend was terminated'));
      expect(pool.totalCount).toBe(0);
      // The pool makes a fresh connection for the next caller.
      expect(
        (await pool.query<{ one: number }>('SELECT 1 AS one')).rows,
      ).toEqual([{ one: 1 }]);
    } finally {
      await admin.end();
      await pool.end();
    }
  });
});
