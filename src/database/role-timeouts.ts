import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import type { DatabaseConfig } from '../config/database.config';

const logger = new Logger('Database');

/** Advisory lock id of the role-settings update ("orders-role-settings" as a number). */
const ROLE_SETTINGS_LOCK_KEY = 726_351_302;

/**
 * Behind a transaction pooler (DB_POOLER=transaction) the statement and lock timeouts cannot travel
 * as startup parameters, and a session `SET` would leak to whoever gets the server connection next.
 * They become the defaults of the app's role in its database instead (`ALTER ROLE CURRENT_USER IN
 * DATABASE ... SET`, which an ordinary role may do for itself): every new server session the pooler
 * opens starts with them. Sessions the pooler opened before keep their old values until recycled
 * (PgBouncer's server_lifetime). If the role may not, the app says so and goes on.
 */
export async function applyRoleTimeouts(config: DatabaseConfig): Promise<void> {
  const client = new Client({
    connectionString: config.url,
    connectionTimeoutMillis: config.connectTimeoutMs,
    application_name: 'orders-setup',
  });
  await client.connect();
  try {
    const { rows } = await client.query<{ db: string }>(
      'SELECT current_database() AS db',
    );
    const database = client.escapeIdentifier(rows[0].db);
    // Instances starting together would update the same pg_db_role_setting row at once ("tuple
    // concurrently updated"): one at a time.
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [
      ROLE_SETTINGS_LOCK_KEY,
    ]);
    for (const [name, ms] of [
      ['statement_timeout', config.statementTimeoutMs],
      ['lock_timeout', config.lockTimeoutMs],
    ] as const) {
      await client.query(
        `ALTER ROLE CURRENT_USER IN DATABASE ${database} SET ${name} = ${Number(ms)}`,
      );
      // This very server session was opened before the default existed, and the pooler hands it
      // to others next: give it the same value (a session SET stays with a pooled server session).
      await client.query(`SET ${name} = ${Number(ms)}`);
    }
    await client.query('COMMIT');
  } catch (error) {
    logger.warn(
      `could not set statement_timeout and lock_timeout as role defaults (${String(error)}): ` +
        'set them in the pooler (PgBouncer connect_query) or ask a DBA to ALTER ROLE',
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
