import pg from 'pg';
import { runPid } from './run-world.ts';

/** Runs one statement on its own connection. */
export async function runSql(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** This process's scratch databases so far: two made in the same millisecond get different names. */
let created = 0;

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh database named `<prefix>_r<run pid>_<now>_<n>` next to `adminUrl`'s (the pid lets the next
 * test run drop it if this one is killed: run-world.ts), for a script that starts the app on an
 * empty schema (bench, growth, soak, capacity, chaos demo); `drop()` removes it, connections and all.
 */
export async function createScratchDatabase(
  adminUrl: string,
  prefix: string,
): Promise<ScratchDatabase> {
  const name = `${prefix}_r${runPid()}_${Date.now()}_${++created}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await runSql(adminUrl, `CREATE DATABASE "${name}"`);
  return {
    url: url.toString(),
    drop: () =>
      runSql(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}
