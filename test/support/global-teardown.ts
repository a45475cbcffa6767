import { Client } from 'pg';
import { createClient } from 'redis';
import {
  ADMIN_DATABASE_URL,
  TEST_DATABASE_ENV,
  testRedisUrl,
} from './test-env';

/** Drops the run's database and flushes the run's Redis databases: a test run leaves nothing behind. */
export default async function globalTeardown(): Promise<void> {
  for (const offset of [0, 1, 2] as const) {
    const redis = createClient({ url: testRedisUrl(offset) });
    await redis.connect();
    await redis.flushDb();
    await redis.quit();
  }
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
