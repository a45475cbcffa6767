import { registerAs } from '@nestjs/config';
import {
  invalidVariable,
  optionalBool,
  optionalInt,
  optionalString,
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
  const pooler = readPooler(source);
  return {
    /**
     * `transaction`: DATABASE_URL is a transaction-pooling PgBouncer (or a hosted pooler like it): no
     * startup parameters (the timeouts become the role's defaults in its database, set at start-up)
     * and, unless DB_PREPARED_STATEMENTS says otherwise, no named prepared statements.
     */
    pooler,
    /** Named prepared statements on the request paths: each connection plans each query once. */
    preparedStatements: optionalBool(
      'DB_PREPARED_STATEMENTS',
      pooler === 'none',
      source,
    ),
    url: requiredString(
      'DATABASE_URL',
      urlWithProtocols(
        ['postgres:', 'postgresql:'],
        'postgres://user:password@127.0.0.1:5432/orders',
      ),
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

const POOLERS = ['none', 'transaction'] as const;

function readPooler(
  source: Record<string, string | undefined>,
): (typeof POOLERS)[number] {
  const value = optionalString('DB_POOLER', 'none', source);
  return (POOLERS as readonly string[]).includes(value)
    ? (value as (typeof POOLERS)[number])
    : invalidVariable(
        'DB_POOLER',
        `"${value}" is not one of ${POOLERS.join(', ')}`,
        'none',
      );
}
