import { InvalidEnvironmentError, InvalidEnvironmentErrors } from './config';
import { sqlState } from './common/errors';
import { MissingMigrationsError } from './database/run-migrations';

/** A start-up problem main.ts itself recognised, already worded as what to fix. */
export class StartupProblem extends Error {
  override name = 'StartupProblem';
}

/** Errors an operator can fix from one line; anything else is a bug and keeps its stack. */
const KNOWN = [
  InvalidEnvironmentErrors,
  InvalidEnvironmentError,
  MissingMigrationsError,
  StartupProblem,
];

/**
 * Listening on a port failed: the usual case is another process (a second instance) on it. Returns a
 * StartupProblem naming the variable to change, or the error itself when it is something else.
 */
export function portProblem(
  error: unknown,
  variable: 'PORT' | 'ADMIN_PORT',
  port: number,
): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'EADDRINUSE')
    return new StartupProblem(
      variable === 'PORT'
        ? `PORT ${port} is in use: set PORT`
        : `ADMIN_PORT ${port} is in use (another instance?): set ADMIN_PORT, or ADMIN_PORT=0 to turn the admin server off`,
    );
  if (code === 'EACCES')
    return new StartupProblem(
      `${variable} ${port} needs privileges this process does not have: set ${variable} above 1023`,
    );
  if (code === 'EADDRNOTAVAIL')
    return new StartupProblem(
      `${variable} ${port}: the listen address is not on this host: set ${variable === 'PORT' ? 'HOST' : 'ADMIN_HOST'}`,
    );
  return error;
}

/**
 * What to print when the process cannot start: one line per thing to fix (every bad variable, the
 * missing database and how to create it, the unreachable Postgres), or undefined for an unknown error.
 */
export function describeStartupFailure(
  error: unknown,
  database: { url: string | undefined; connectTimeoutMs: number },
): string | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (KNOWN.some((known) => current instanceof known)) return current.message;
    const problem = databaseProblem(current, database);
    if (problem) return problem;
  }
  return undefined;
}

/** pg's words for a server that ended the connection during Postgres's start-up exchange. */
const ENDED = /Connection terminated unexpectedly/i;
/** pg's words for a connection that did not complete in time. */
const TIMED_OUT = /connection timeout|timeout expired/i;

/** Postgres errors that retrying will not fix, and that DATABASE_URL or one command does. */
export function isPermanentDatabaseError(error: unknown): boolean {
  return ['3D000', '28P01', '28000'].includes(sqlState(error) ?? '');
}

function databaseProblem(
  error: Error,
  database: { url: string | undefined; connectTimeoutMs: number },
): string | undefined {
  const url = safeUrl(database.url);
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
      // Something listens there and hung up (another service's port), or it took too long: what was
      // seen, not a guess (a busy Postgres times out as a silent port does).
      if (ENDED.test(error.message))
        return `the server at ${where} ended the connection during Postgres's start-up exchange: is DATABASE_URL's host and port a Postgres server?`;
      return TIMED_OUT.test(error.message)
        ? `connecting to Postgres at ${where} timed out after ${database.connectTimeoutMs} ms (DB_CONNECT_TIMEOUT_MS): a busy server (raise DB_CONNECT_TIMEOUT_MS) or a port that is not Postgres (fix DATABASE_URL)`
        : undefined;
  }
}

function safeUrl(value: string | undefined): URL | undefined {
  try {
    return value ? new URL(value) : undefined;
  } catch {
    return undefined;
  }
}
