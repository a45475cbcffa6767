import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './support/app-process';

describe('Start-up failures name the fix: one line, exit 1, no stack trace', () => {
  const run = promisify(execFile);
  const MAIN = resolve('dist/main.js');
  /** The production build with the test run's settings and `env` on top; its exit code and output. */
  const start = (env: Record<string, string | undefined>, cwd?: string) =>
    run(process.execPath, [MAIN], {
      cwd,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        DATABASE_URL: process.env.DATABASE_URL,
        REDIS_URL: process.env.REDIS_URL,
        JWT_SECRET: process.env.JWT_SECRET,
        DB_MIGRATIONS_RUN: 'false',
        ...env,
      },
      // Generous: on a loaded machine a start that fails after three connect attempts takes its time.
      timeout: 60_000,
    }).then(
      () => ({ code: 0, stderr: '', stdout: '' }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
  let occupied: Server;
  let busyPort: number;
  beforeAll(async () => {
    occupied = createServer();
    await new Promise<void>((done) => occupied.listen(0, '127.0.0.1', done));
    busyPort = (occupied.address() as { port: number }).port;
  });
  afterAll(() => new Promise((done) => occupied.close(done)));

  /** Exit 1 and one line in all: nothing on stdout (Nest's own error line was one, before ours). */
  const oneLine = (result: {
    code: number;
    stderr: string;
    stdout: string;
  }) => {
    expect(result.code).toBe(1);
    expect(result.stdout.trim()).toBe('');
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    return lines[0];
  };

  it('PORT in use', async () => {
    const result = await start({
      PORT: String(busyPort),
      ADMIN_PORT: String(await freePort()),
    });
    expect(oneLine(result)).toBe(`PORT ${busyPort} is in use: set PORT`);
  });

  it('ADMIN_PORT in use (a second instance on the same host)', async () => {
    const result = await start({
      PORT: String(await freePort()),
      ADMIN_PORT: String(busyPort),
    });
    expect(oneLine(result)).toBe(
      `ADMIN_PORT ${busyPort} is in use (another instance?): set ADMIN_PORT, or ADMIN_PORT=0 to turn the admin server off`,
    );
  });

  it('PORT equal to ADMIN_PORT, refused by the config check', async () => {
    const result = await start({ PORT: '8123', ADMIN_PORT: '8123' });
    expect(oneLine(result)).toBe(
      'Invalid environment variable ADMIN_PORT: 8123 is also PORT: give the admin server a port of its own, or ADMIN_PORT=0 to turn it off',
    );
  });

  // Each start spends DB_CONNECT_TIMEOUT_MS three times (the ORM's retries) plus their delays.
  it('a DATABASE_URL that answers but is not Postgres, or does not answer at all', async () => {
    // Reads and never answers; reading lets each connection end when the app exits.
    const silent = createServer((socket) =>
      socket.on('error', () => undefined).resume(),
    );
    // Another service's port that hangs up on what it does not understand.
    const hangsUp = createServer((socket) =>
      socket.on('error', () => undefined).once('data', () => socket.destroy()),
    );
    await Promise.all(
      [silent, hangsUp].map(
        (server) =>
          new Promise<void>((done) => server.listen(0, '127.0.0.1', done)),
      ),
    );
    const portOf = (server: Server) =>
      String((server.address() as { port: number }).port);
    try {
      const ports = [portOf(hangsUp), portOf(silent)];
      const results = await Promise.all(
        ports.map((port) =>
          start({
            PORT: '0',
            ADMIN_PORT: '0',
            DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/orders`,
            DB_CONNECT_TIMEOUT_MS: '500',
          }),
        ),
      );
      // One hangs up on Postgres's start-up message; the silent port lets it time out, as a busy
      // Postgres would: each line says what it saw.
      expect(oneLine(results[0])).toBe(
        `the server at 127.0.0.1:${ports[0]} ended the connection during Postgres's start-up exchange: is DATABASE_URL's host and port a Postgres server?`,
      );
      expect(oneLine(results[1])).toBe(
        `connecting to Postgres at 127.0.0.1:${ports[1]} timed out after 500 ms (DB_CONNECT_TIMEOUT_MS): a busy server (raise DB_CONNECT_TIMEOUT_MS) or a port that is not Postgres (fix DATABASE_URL)`,
      );
    } finally {
      await Promise.all(
        [silent, hangsUp].map(
          (server) => new Promise((done) => server.close(done)),
        ),
      );
    }
  }, 90_000);

  it('no .env and no variables: says to copy .env.example', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'orders-no-env-'));
    try {
      const result = await start(
        {
          NODE_ENV: undefined,
          DATABASE_URL: undefined,
          REDIS_URL: undefined,
          JWT_SECRET: undefined,
        },
        empty,
      );
      expect(oneLine(result)).toBe(
        `no .env found in ${empty} and none of DATABASE_URL, REDIS_URL, JWT_SECRET is set: copy .env.example to .env (cp .env.example .env) and set JWT_SECRET in it`,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('a REDIS_URL without a scheme: shows the expected form', async () => {
    const result = await start({
      PORT: '0',
      ADMIN_PORT: '0',
      REDIS_URL: 'localhost:6379',
    });
    expect(oneLine(result)).toBe(
      'Invalid environment variable REDIS_URL: must start with redis:// or rediss://, as in redis://127.0.0.1:6379 (or rediss://user:password@host:6380/0)',
    );
  });
});
