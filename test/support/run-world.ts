import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

/**
 * A test run's own world on a shared machine: its temporary directory (`orders-run-<pid>` under the
 * system's, TMPDIR for every worker and process the run starts), its databases (named with
 * `r<pid>`) and its Redis server. A run that was killed leaves them behind; the next run removes
 * what belongs to a process that no longer exists, and never touches a run still going.
 */
export const RUN_DIR_PREFIX = 'orders-run-';

/** The pid a scratch database's name carries: the test run's (set by the global setup), or this process's. */
export function runPid(): number {
  return Number(process.env.ORDERS_TEST_RUN_PID ?? process.pid);
}

/** Whether process `pid` still runs on this machine. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Creates this run's directory, under the system's temporary one. */
export function createRunDir(systemTmp = tmpdir()): string {
  const dir = join(systemTmp, `${RUN_DIR_PREFIX}${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Directories a run names with its pid: its TMPDIR (`orders-run-<pid>`), and the Postgres clusters
 * and HA topologies it started under /tmp, where the postgres account can reach
 * (`orders-pg-r<pid>-*`, `orders-ha-r<pid>-*`).
 */
const RUN_DIR_PATTERN = /^(?:orders-run-|orders-(?:pg|ha)-r)(\d+)(?:-|$)/;

/**
 * Removes the directories of runs whose process is gone, killing first whatever still runs from
 * them (a server given a path inside: nats-server, redis-server, postgres, Patroni, etcd, HAProxy).
 * Returns what it removed.
 */
export function removeDeadRunDirs(...parents: string[]): string[] {
  const removed: string[] = [];
  for (const parent of new Set(parents.length ? parents : [tmpdir(), '/tmp']))
    for (const entry of readdirSync(parent)) {
      const pid = Number(RUN_DIR_PATTERN.exec(entry)?.[1]);
      if (!pid || alive(pid)) continue;
      const dir = join(parent, entry);
      try {
        execFileSync('pkill', ['-KILL', '-f', `${dir}/`], { stdio: 'ignore' });
      } catch {
        // Nothing was running from it.
      }
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    }
  return removed;
}

/**
 * What killed runs left: their directories (and the servers still running from them: nats-server
 * and redis-server were given paths inside), and their databases. Returns what it removed.
 */
export async function removeLeftovers(
  adminUrl: string,
  systemTmp?: string,
): Promise<string[]> {
  const removed = systemTmp
    ? removeDeadRunDirs(systemTmp)
    : removeDeadRunDirs();
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'orders\\_test\\_%'",
    );
    for (const { datname } of rows) {
      const pid = Number(/_r(\d+)_/.exec(datname)?.[1]);
      if (!pid || alive(pid)) continue;
      await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      removed.push(datname);
    }
  } finally {
    await admin.end();
  }
  return removed;
}
