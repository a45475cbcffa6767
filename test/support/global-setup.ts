import 'reflect-metadata';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { readDatabaseConfig } from '../../src/config/database.config';
import { buildTypeOrmOptions } from '../../src/database/typeorm-options';
import { startRedisServer } from './redis-server';
import { createRunDir, removeLeftovers } from './run-world';
import {
  ADMIN_DATABASE_URL,
  TEST_DATABASE_ENV,
  testDatabaseUrl,
} from './test-env';

/**
 * The run's world: first what killed runs left behind is removed; then a directory of its own
 * (TMPDIR for every worker and process it starts), a redis-server of its own (unless TEST_REDIS_URL
 * names one: nothing is flushed on a shared server), and a fresh database (its name contains "test"
 * and the run's pid), migrated exactly as production is.
 */
export default async function globalSetup(): Promise<void> {
  const removed = await removeLeftovers(ADMIN_DATABASE_URL);
  if (removed.length)
    console.log(`\nremoved what killed test runs left: ${removed.join(', ')}`);
  process.env.ORDERS_TEST_RUN_PID = String(process.pid);
  process.env.TMPDIR = createRunDir();
  if (!process.env.TEST_REDIS_URL) {
    const redis = await startRedisServer([], undefined, { detached: true });
    process.env.TEST_REDIS_URL = redis.url;
    process.env.ORDERS_TEST_REDIS_PID = String(redis.pid);
  }
  const name = `orders_test_r${process.pid}_${Date.now()}`;
  const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();

  process.env[TEST_DATABASE_ENV] = testDatabaseUrl(name);
  const dataSource = new DataSource(
    buildTypeOrmOptions({
      ...readDatabaseConfig({ DATABASE_URL: process.env[TEST_DATABASE_ENV] }),
      migrationsRun: false,
    }),
  );
  await dataSource.initialize();
  await dataSource.runMigrations();
  await dataSource.destroy();
}
