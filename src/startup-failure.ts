import { InvalidEnvironmentError, InvalidEnvironmentErrors } from './config';
import { sqlState } from './common/errors';
import { MissingMigrationsError } from './database/run-migrations';

/** Errors an operator can fix from one line; anything else is a bug and keeps its stack. */
const KNOWN = [
  InvalidEnvironmentErrors,
  InvalidEnvironmentError,
  MissingMigrationsError,
];

/**
 * What to print when the process cannot start: one line per thing to fix (every bad variable, the
 * missing database and how to create it, the unreachable Postgres), or undefined for an unknown error.
 */
export function describeStartupFailure(
  error: unknown,
  databaseUrl: string | undefined,
): string | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (KNOWN.some((known) => current instanceof known)) return current.message;
    const database = databaseProblem(current, databaseUrl);
    if (database) return database;
  }
  return undefined;
}

/** Postgres errors that retrying will not fix, and that DATABASE_URL or one command does. */
export function isPermanentDatabaseError(error: unknown): boolean {
  return ['3D000', '28P01', '28000'].includes(sqlState(error) ?? '');
}

function databaseProblem(
  error: Error,
  databaseUrl: string | undefined,
): string | undefined {
  const url = safeUrl(databaseUrl);
  const where = url ? `${url.hostname}:${url.port || 5432}` : 'DATABASE_URL';
  const name = url?.pathname.slice(1) || 'the database';
  switch (sqlState(error)) {
    case '3D000':
      return `Database "${name}" does not exist on ${where}: create it (createdb -h ${url?.hostname ?? '<host>'} -U ${url?.username || 'postgres'} ${name}) or fix DATABASE_URL`;
    case '28P01':
    case '28000':
      return `Postgres on ${where} refused the credentials in DATABASE_URL: ${error.message}`;
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
      return `Postgres is not reachable at ${where} (${sqlState(error)}): start it or fix DATABASE_URL`;
    default:
      return undefined;
  }
}

function safeUrl(value: string | undefined): URL | undefined {
  try {
    return value ? new URL(value) : undefined;
  } catch {
    return undefined;
  }
}
