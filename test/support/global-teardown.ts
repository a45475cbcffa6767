import { rmSync } from 'node:fs';
import { Client } from 'pg';
import { ADMIN_DATABASE_URL, TEST_DATABASE_ENV } from './test-env';

/** Stops the run's Redis, removes its directory and drops its database: a test run leaves nothing behind. */
export default async function globalTeardown(): Promise<void> {
  const redisPid = Number(process.env.ORDERS_TEST_REDIS_PID);
  if (redisPid) {
    try {
      process.kill(redisPid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  if (process.env.TMPDIR?.includes('orders-run-'))
    rmSync(process.env.TMPDIR, { recursive: true, force: true });
  const url = process.env[TEST_DATABASE_ENV];
  if (!url) return;
  const name = new URL(url).pathname.slice(1);
  if (!name.includes('test'))
    throw new Error(`refusing to drop ${name}: not a test database`);
  const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.end();
}
