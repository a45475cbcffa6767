import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './app-process';

const BINARY = process.env.PGBOUNCER_PATH ?? '/usr/sbin/pgbouncer';

/**
 * A stock PgBouncer (Debian's 1.18) in transaction mode in front of one Postgres, started for a test
 * from the machine's own binary in a temporary directory. Nothing is relaxed for the app: no
 * `ignore_startup_parameters`. Short server timeouts, so that a cut Postgres fails fast.
 */
export class PgBouncer {
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly output: () => string,
  ) {}

  static async start(
    postgresHost: string,
    postgresPort: number,
  ): Promise<PgBouncer> {
    const dir = mkdtempSync(join(tmpdir(), 'pgbouncer-'));
    chmodSync(dir, 0o755);
    const port = await freePort();
    writeFileSync(join(dir, 'userlist.txt'), '"postgres" ""\n', {
      mode: 0o644,
    });
    writeFileSync(
      join(dir, 'pgbouncer.ini'),
      [
        '[databases]',
        `* = host=${postgresHost} port=${postgresPort}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${join(dir, 'userlist.txt')}`,
        'pool_mode = transaction',
        'max_client_conn = 500',
        'default_pool_size = 10',
        // A cut Postgres: give up on a server within a second, and try again a second later.
        'server_connect_timeout = 1',
        'server_login_retry = 1',
        'query_wait_timeout = 3',
        '',
      ].join('\n'),
      { mode: 0o644 },
    );
    // PgBouncer refuses to run as root; -u drops to the postgres user when we are root.
    const asRoot = process.getuid?.() === 0;
    const child = spawn(
      BINARY,
      [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout?.on(
      'data',
      (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)),
    );
    child.stderr?.on(
      'data',
      (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)),
    );
    const bouncer = new PgBouncer(port, child, dir, () => output);
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await bouncer.stop();
        throw new Error(`PgBouncer did not start:\n${output}`);
      }
      await sleep(50);
    }
    return bouncer;
  }

  /** `url` (a Postgres URL) pointed at this PgBouncer, same user and database. */
  urlFor(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  log(): string {
    return this.output();
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGINT');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether PgBouncer is installed where the tests look for it. */
export function pgBouncerVersion(): string {
  return execFileSync(BINARY, ['--version']).toString().split('\n')[0];
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
