import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './app-process.ts';
import { BIN_DIR, postgresAccount } from './patroni-cluster.ts';
import { runPid } from './run-world.ts';

export interface PostgresCluster {
  /** The `postgres` database of the cluster (trust auth on 127.0.0.1). */
  url: string;
  stop(): void;
}

/**
 * A PostgreSQL 15 cluster of the test's own (Debian's binaries, initdb on a free port, as the
 * `postgres` account: Postgres refuses root), for settings no test may make on the shared server:
 * `synchronous_standby_names`, `default_transaction_read_only`. Under /tmp, where that account can
 * reach, named after the run's pid.
 */
export async function startPostgresCluster(): Promise<PostgresCluster> {
  const account = postgresAccount();
  const dir = mkdtempSync(join('/tmp', `orders-pg-r${runPid()}-`));
  chownSync(dir, account.uid, account.gid);
  const data = join(dir, 'data');
  const asPostgres = (binary: string, args: string[]) =>
    execFileSync(join(BIN_DIR, binary), args, {
      uid: account.uid,
      gid: account.gid,
      stdio: 'ignore',
      timeout: 60_000,
    });
  const port = await freePort();
  asPostgres('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
  ]);
  asPostgres('pg_ctl', [
    '-D',
    data,
    '-l',
    join(dir, 'log'),
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
    'start',
  ]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => {
      try {
        asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
