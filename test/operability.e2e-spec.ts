import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { verify } from 'jsonwebtoken';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  freePort,
  startAppProcess,
  type AppProcess,
} from './support/app-process';
import { rawBody } from './support/raw-http';
import { migrate } from './support/own-database';
import { createScratchDatabase } from './support/scratch-database';
import { TcpProxy } from './support/tcp-proxy';
import { createTestApp, send } from './support/test-app';
import { ADMIN_DATABASE_URL, TEST_WEBHOOK_SECRET } from './support/test-env';
import { until } from './support/until';

/** How long after `since` a line matching `pattern` appeared in the app's output (ms). */
async function lineLatency(
  app: AppProcess,
  pattern: RegExp,
  since: number,
  from: number,
): Promise<number> {
  await until(() => Promise.resolve(pattern.test(app.output().slice(from))), {
    timeoutMs: 2000,
    intervalMs: 5,
  });
  return Date.now() - since;
}

describe('JSON logs arrive while the instance runs (the production build, its stdout piped)', () => {
  let redis: TcpProxy;
  let app: AppProcess;
  beforeAll(async () => {
    redis = await TcpProxy.start(process.env.REDIS_URL!);
    app = await startAppProcess({
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      REDIS_URL: redis.urlFor(process.env.REDIS_URL!),
    });
  });
  afterAll(async () => {
    await app.stop();
    await redis.close();
  });

  it('writes a warning at once and a request line within the flush interval, not at shutdown', async () => {
    // A quiet instance: nothing else is logged, so nothing else fills the 4 KiB batch.
    let from = app.output().length;
    let since = Date.now();
    redis.cut();
    const warning = await lineLatency(
      app,
      /"level":40.*Redis connection error/,
      since,
      from,
    );
    redis.restore();
    from = app.output().length;
    since = Date.now();
    await send(app.url, 'GET', '/orders', {
      headers: { 'x-request-id': 'log-latency-1' },
    });
    const requestLine = await lineLatency(
      app,
      /"requestId":"log-latency-1"/,
      since,
      from,
    );
    console.log(
      `log latency: warning ${warning} ms, request line ${requestLine} ms`,
    );
    expect(warning).toBeLessThan(2000);
    expect(requestLine).toBeLessThan(2000);
  });
});

describe('Human-readable logs (LOG_FORMAT=pretty: pino-pretty in a worker thread)', () => {
  it('writes the start-up line as text, from the bundled build', async () => {
    const app = await startAppProcess({
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'pretty',
    });
    try {
      // The transport's worker loads from pino's own files, which the bundle leaves in node_modules.
      await until(
        () =>
          Promise.resolve(
            /^\[[\d:.]+\] INFO: orders listening on /m.test(app.output()),
          ),
        { timeoutMs: 10_000 },
      );
      expect(app.output()).not.toMatch(/^\{"level"/m);
    } finally {
      await app.stop();
    }
  });
});

describe('No schema, no readiness (DB_MIGRATIONS_RUN=false on an empty database)', () => {
  it('answers readiness 503 and says how to fix it on the start-up line; ready once migrated', async () => {
    const scratch = await createScratchDatabase(
      ADMIN_DATABASE_URL,
      'orders_test_no_schema',
    );
    let app: AppProcess | undefined;
    try {
      app = await startAppProcess({
        DATABASE_URL: scratch.url,
        LOG_LEVEL: 'info',
        LOG_FORMAT: 'json',
        HEALTH_CACHE_MS: '0',
      });
      await until(() =>
        Promise.resolve(app!.output().includes('orders listening')),
      );
      expect(app.output()).toMatch(/schema missing: run npm run migration:run/);
      const ready = await send(app.url, 'GET', '/health/ready');
      expect(ready.status).toBe(503);
      expect(
        (await send(app.adminUrl, 'GET', '/health/ready')).body.error.database
          .message,
      ).toMatch(/^schema missing/);
      await migrate(scratch.url);
      expect((await send(app.url, 'GET', '/health/ready')).status).toBe(200);
    } finally {
      await app?.stop();
      await scratch.drop();
    }
  });
});

describe('Shutdown answers in the envelope', () => {
  it('answers a request that arrives on an open connection after the listener closed: 503 SERVICE_UNAVAILABLE, Connection: close, Retry-After', async () => {
    const t = await createTestApp();
    const { port } = new URL(t.url);
    // Resolves once the server has read the request's first bytes (its parser runs first).
    const serverRead = new Promise<void>((done) =>
      t.app
        .getHttpServer()
        .once('connection', (serverSide: import('node:net').Socket) =>
          serverSide.once('data', () => done()),
        ),
    );
    // A connection in the middle of its request: not idle, so closing the server keeps it open.
    const socket = connect(Number(port), '127.0.0.1');
    let response = '';
    socket.on('data', (chunk: Buffer) => (response += chunk.toString()));
    const ended = new Promise((done) => socket.once('close', done));
    socket.write('GET /health/live HTTP/1.1\r\nHost: orders\r\n');
    await serverRead;
    const closing = t.app.close();
    // Closing: new connections are refused from now on.
    await until(async () => !(await sendable(t.url)));
    socket.write('\r\n');
    await ended;
    await closing;
    const [head] = response.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 503/);
    expect(head).toMatch(/\r\nconnection: close/i);
    expect(head).toMatch(/\r\nretry-after: 1/i);
    expect(rawBody(response)).toEqual({
      error: {
        code: 'SERVICE_UNAVAILABLE',
        message:
          'This instance is shutting down; retry (another instance will answer)',
      },
    });
  });
});

describe('Shutdown while Redis has not answered yet', () => {
  it('stops without a "Redis not reachable at start-up" warning: the failure is the shutdown\'s doing', async () => {
    const redis = await TcpProxy.start(process.env.REDIS_URL!);
    redis.stall(); // connecting hangs: the app starts and serves without Redis
    const app = await startAppProcess({
      REDIS_URL: redis.urlFor(process.env.REDIS_URL!),
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    });
    try {
      await until(() =>
        Promise.resolve(app.output().includes('orders listening')),
      );
      expect(await app.stop()).toEqual({ code: 0, signal: null });
      // What the shutdown caused. (A boot slower than the 3 s connect timeout, with a core hogged,
      // logs the connection error before it, rightly: Redis did not answer for 3 s.)
      const afterStop = app.output().split('SIGTERM received')[1];
      expect(afterStop).toBeDefined();
      expect(afterStop).not.toMatch(/Redis not reachable at start-up/);
      expect(afterStop).not.toMatch(/Redis connection error/);
    } finally {
      await redis.close();
    }
  });
});

/** True when the app still accepts a new connection. */
function sendable(url: string): Promise<boolean> {
  return fetch(`${url}/health/live`).then(
    () => true,
    () => false,
  );
}

describe('Scripts behave like tools', () => {
  const run = promisify(execFile);
  const script = (
    name: string,
    args: string[],
    env: Record<string, string | undefined> = {},
    cwd?: string,
  ) =>
    run(
      process.execPath,
      [
        '--disable-warning=MODULE_TYPELESS_PACKAGE_JSON',
        resolve('scripts', name),
        ...args,
      ],
      { cwd, env: { PATH: process.env.PATH, ...env }, timeout: 20_000 },
    ).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
  const toolError = (result: { code: number; stderr: string }) => {
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    return lines[0];
  };

  it('npm run token reads a quoted JWT_SECRET from .env as the app does, and refuses a bad ttl in one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orders-token-'));
    try {
      const secret = 'quoted secret # with a hash, 32 bytes or more';
      writeFileSync(join(dir, '.env'), `JWT_SECRET="${secret}"\n`);
      const made = await script('token.js', ['alice', '60'], {}, dir);
      expect(made.code).toBe(0);
      expect(verify(made.stdout.trim(), secret)).toMatchObject({
        sub: 'alice',
      });
      for (const ttl of ['abc', '0', '-5', '1e3', String(86_401)])
        expect(
          toolError(await script('token.js', ['alice', ttl], {}, dir)),
        ).toMatch(/^token: ttlSeconds must be a whole number from 1 to 86400/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('npm run webhook: a non-UUID order id, or no app, is one line and exit 2; --id resends as a redelivery', async () => {
    const env = {
      PAYMENT_WEBHOOK_SECRETS: TEST_WEBHOOK_SECRET,
      PORT: String(await freePort()),
    };
    expect(
      toolError(
        await script('webhook.ts', ['payment.succeeded', 'order-1'], env),
      ),
    ).toBe('webhook: orderId must be an order\'s UUID, not "order-1"');
    const orderId = randomUUID();
    expect(
      toolError(
        await script('webhook.ts', ['payment.succeeded', orderId, '100'], env),
      ),
    ).toBe(
      `webhook: no app answered at http://127.0.0.1:${env.PORT} (ECONNREFUSED): start it (npm start) or set PORT`,
    );
    const t = await createTestApp();
    try {
      const live = { ...env, PORT: new URL(t.url).port };
      const args = [
        'payment.succeeded',
        orderId,
        '100',
        '--id',
        `msg_${randomUUID()}`,
      ];
      const first = await script('webhook.ts', args, live);
      expect(first.stdout).toContain(
        '"duplicate":false,"outcome":"unknown_order"',
      );
      const again = await script('webhook.ts', args, live);
      expect(again.stdout).toContain(
        '"duplicate":true,"outcome":"unknown_order"',
      );
    } finally {
      await t.close();
    }
  });
});
