import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './app-process.ts';
import { migrate } from './own-database.ts';
import { BIN_DIR, postgresAccount } from './ha-config.ts';
import { removeDeadRunDirs, runPid } from './run-world.ts';

const execFileAsync = promisify(execFile);

/** Creates database `orders` on `cluster`, with every migration applied; returns its URL. */
export async function migratedDatabase(
  cluster: PostgresCluster,
): Promise<string> {
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  try {
    await admin.query('CREATE DATABASE orders');
  } finally {
    await admin.end();
  }
  const url = cluster.url.replace(/\/postgres$/, '/orders');
  await migrate(url);
  return url;
}

export interface PostgresCluster {
  /** The `postgres` database of the cluster (trust auth on 127.0.0.1). */
  url: string;
  port: number;
  /**
   * A streaming standby of this cluster (asynchronous), cloned with pg_basebackup; it reaches this
   * cluster at `via` (a proxy the test can cut), or directly.
   */
  startStandby(via?: number): Promise<PostgresCluster>;
  /** pg_ctl promote: a standby becomes a primary, on the next timeline. */
  promote(): Promise<void>;
  /** Stops it at once (as a crash would) and removes its files. */
  stop(): Promise<void>;
}

/**
 * A PostgreSQL 15 cluster of the test's own (Debian's binaries on a free port, as the `postgres`
 * account: Postgres refuses root), for what no test may do to the shared server: server-wide
 * settings (`synchronous_standby_names`, `default_transaction_read_only`), a standby promoted. Under
 * /tmp, where that account can reach, named after the run's pid (the next run removes a killed
 * run's). Every command runs asynchronously: a TcpProxy between the clusters lives in this process.
 */
export async function startPostgresCluster(): Promise<PostgresCluster> {
  removeDeadRunDirs('/tmp');
  return startNode(async (data) => {
    await asPostgres('initdb', [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--locale=C.UTF-8',
    ]);
  });
}

async function startNode(
  create: (data: string) => Promise<void>,
): Promise<PostgresCluster> {
  const account = postgresAccount();
  const dir = mkdtempSync(join('/tmp', `orders-pg-r${runPid()}-`));
  chownSync(dir, account.uid, account.gid);
  const data = join(dir, 'data');
  const port = await freePort();
  try {
    await create(data);
    await asPostgres('pg_ctl', [
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-w',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      'start',
    ]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    startStandby: (via = port) =>
      startNode((standby) =>
        asPostgres('pg_basebackup', [
          '-D',
          standby,
          '-R',
          // An immediate checkpoint: the default spreads it over minutes.
          '--checkpoint=fast',
          '-X',
          'stream',
          '-d',
          `host=127.0.0.1 port=${via} user=postgres`,
        ]).then(() => undefined),
      ),
    promote: () =>
      asPostgres('pg_ctl', ['-D', data, '-w', 'promote']).then(() => undefined),
    stop: async () => {
      try {
        await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function asPostgres(
  binary: string,
  args: string[],
): Promise<{ stdout: string }> {
  const account = postgresAccount();
  return execFileAsync(join(BIN_DIR, binary), args, {
    uid: account.uid,
    gid: account.gid,
    timeout: 60_000,
  });
}
