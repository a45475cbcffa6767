import 'reflect-metadata';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { readDatabaseConfig } from '../../src/config/database.config';
import { buildTypeOrmOptions } from '../../src/database/typeorm-options';
import {
  ADMIN_DATABASE_URL,
  TEST_DATABASE_ENV,
  testDatabaseUrl,
} from './test-env';

/** A fresh database per run (its name contains "test"), migrated exactly as production is. */
export default async function globalSetup(): Promise<void> {
  const name = `orders_test_${process.pid}_${Date.now()}`;
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
