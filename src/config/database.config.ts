import { registerAs } from '@nestjs/config';
import {
  optionalBool,
  optionalInt,
  requiredString,
  urlWithProtocols,
} from './env';

export const databaseConfig = registerAs('database', readDatabaseConfig);

/** DATABASE_URL as set, even when invalid: start-up diagnostics name its host and database. */
export function rawDatabaseUrl(
  source: Record<string, string | undefined> = process.env,
): string | undefined {
  return source.DATABASE_URL;
}

export type DatabaseConfig = ReturnType<typeof readDatabaseConfig>;

/** Also used by the migration CLI, which runs without Nest. */
export function readDatabaseConfig(
  source: Record<string, string | undefined> = process.env,
) {
  return {
    url: requiredString(
      'DATABASE_URL',
      urlWithProtocols('postgres:', 'postgresql:'),
      source,
    ),
    migrationsRun: optionalBool('DB_MIGRATIONS_RUN', true, source),
    poolSize: optionalInt('DB_POOL_SIZE', 20, { min: 1, max: 200 }, source),
    connectTimeoutMs: optionalInt(
      'DB_CONNECT_TIMEOUT_MS',
      3000,
      { min: 100, max: 60000 },
      source,
    ),
    lockTimeoutMs: optionalInt(
      'DB_LOCK_TIMEOUT_MS',
      1000,
      { min: 0, max: 600000 },
      source,
    ),
    statementTimeoutMs: optionalInt(
      'DB_STATEMENT_TIMEOUT_MS',
      5000,
      { min: 100, max: 600000 },
      source,
    ),
  };
}
