import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startAppProcess } from './support/app-process';
import { createScratchDatabase } from './support/scratch-database';
import { TcpProxy } from './support/tcp-proxy';
import { ADMIN_DATABASE_URL } from './support/test-env';
import { until } from './support/until';
import { createTestApp, send, TestApp } from './support/test-app';
import { DatabaseIndicator } from '../src/health/database.indicator';

describe('Health and API docs', () => {
  let t: TestApp;
  let postgres: TcpProxy;
  let redis: TcpProxy;

  beforeAll(async () => {
    postgres = await TcpProxy.start(process.env.DATABASE_URL!);
    redis = await TcpProxy.start(process.env.REDIS_URL!);
    t = await createTestApp({
      env: {
        DATABASE_URL: postgres.urlFor(process.env.DATABASE_URL!),
        REDIS_URL: redis.urlFor(process.env.REDIS_URL!),
        DB_CONNECT_TIMEOUT_MS: '500',
        // Every check probes: these tests cut a dependency and look at the very next answer.
        HEALTH_CACHE_MS: '0',
      },
    });
  });
  afterAll(async () => {
    postgres.restore();
    await t.close();
    await postgres.close();
    await redis.close();
  });

  it('GET /health/live answers 200 without touching a dependency', async () => {
    postgres.cut();
    redis.cut();
    const live = await send(t.url, 'GET', '/health/live');
    postgres.restore();
    redis.restore();
    expect(live.status).toBe(200);
    expect(live.body).toEqual({ status: 'ok' });
  });

  it('GET /health/ready needs Postgres and reports Redis as degraded without failing, in detail on the admin port only', async () => {
    const details = () => send(t.adminUrl, 'GET', '/health/ready');
    await until(
      async () => (await details()).body?.info?.redis?.status === 'up',
    );
    const healthy = await send(t.url, 'GET', '/health/ready');
    expect(healthy.status).toBe(200);
    expect(healthy.body).toEqual({ status: 'ok' });
    redis.cut();
    const noRedis = await send(t.url, 'GET', '/health/ready');
    expect(noRedis.status).toBe(200);
    expect(noRedis.body).toEqual({ status: 'ok' });
    const noRedisDetails = await details();
    expect(noRedisDetails.status).toBe(200);
    expect(noRedisDetails.body.info.redis.status).toBe('degraded');
    redis.restore();
    postgres.cut();
    const noPostgres = await send(t.url, 'GET', '/health/ready');
    const noPostgresDetails = await details();
    postgres.restore();
    expect(noPostgres.status).toBe(503);
    // A stranger learns "not ready", not which dependency is down.
    expect(noPostgres.body).toEqual({
      error: { code: 'SERVICE_UNAVAILABLE', message: 'Not ready' },
    });
    expect(noPostgresDetails.status).toBe(503);
    expect(noPostgresDetails.body.error.database.status).toBe('down');
  });

  it('GET /health is public and 200 while Postgres answers, 503 in the envelope when it does not', async () => {
    const healthy = await send(t.url, 'GET', '/health');
    expect(healthy.status).toBe(200);
    expect(healthy.body.status).toBe('ok');

    postgres.cut();
    const down = await send(t.url, 'GET', '/health');
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('SERVICE_UNAVAILABLE');

    postgres.restore();
    const back = await send(t.url, 'GET', '/health');
    expect(back.status).toBe(200);
  });

  it('probes Postgres one at a time: checks and the start-up line asking at once share one new connection', async () => {
    const indicator = t.app.get(DatabaseIndicator);
    // Break the probe's connection, so that the next probe connects anew.
    postgres.cut();
    expect(await indicator.schemaProblem()).toBeUndefined();
    expect((await send(t.url, 'GET', '/health')).status).toBe(503);
    postgres.restore();
    const connect = jest.spyOn(
      indicator as unknown as { connect(): Promise<unknown> },
      'connect',
    );
    try {
      const answers = await Promise.all([
        indicator.schemaProblem(),
        indicator.check('database'),
        indicator.check('database'),
      ]);
      expect(answers[0]).toBeUndefined();
      expect(answers[1]).toEqual({ database: { status: 'up' } });
      // Two probes at once each connected, and the client overwritten was never ended.
      expect(connect).toHaveBeenCalledTimes(1);
    } finally {
      connect.mockRestore();
    }
  });

  it('GET /docs serves Swagger UI', async () => {
    const response = await send(t.url, 'GET', '/docs');
    expect(response.status).toBe(200);
    expect(String(response.body)).toContain('swagger');
  });

  it('GET /docs-json documents every route, the bearer scheme, the key header and the error codes', async () => {
    const { body: doc } = await send(t.url, 'GET', '/docs-json');
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths as object).sort()).toEqual([
      '/health',
      '/health/live',
      '/health/ready',
      '/orders',
      '/orders/{id}',
      '/webhooks/payments',
    ]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    const create = doc.paths['/orders'].post;
    const keyHeader = create.parameters.find(
      (p: { name: string }) => p.name === 'Idempotency-Key',
    );
    expect(keyHeader).toMatchObject({
      in: 'header',
      required: true,
      schema: { maxLength: 255 },
    });
    expect(Object.keys(create.responses as object).sort()).toEqual([
      '201',
      '400',
      '401',
      '409',
      '413',
      '415',
      '422',
      '429',
      '500',
      '503',
    ]);
    expect(create.responses['201'].headers).toHaveProperty(
      'Idempotent-Replayed',
    );
    // Every 2xx and 4xx answer documents the rate-limit fields the service sends.
    for (const status of ['201', '400', '401', '409', '422', '429'])
      expect(Object.keys(create.responses[status].headers as object)).toEqual(
        expect.arrayContaining([
          'RateLimit-Limit',
          'RateLimit-Remaining',
          'RateLimit-Reset',
        ]),
      );
    expect(
      create.responses['409'].content['application/json'].schema.properties
        .error.properties.code.enum,
    ).toEqual(['IDEMPOTENCY_REQUEST_IN_PROGRESS']);
    expect(create.responses['422'].description).toContain(
      'IDEMPOTENCY_KEY_REUSED',
    );
    expect(doc.info.description).toContain('Retry semantics');
    expect(doc.paths['/orders/{id}'].delete.responses).toHaveProperty('404');
  });
});

describe('Start-up configuration', () => {
  const run = promisify(execFile);
  /** The production build, as `npm run start:prod` runs it; resolves with its exit code and output. */
  const start = (env: Record<string, string>) =>
    run(process.execPath, ['dist/main.js'], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        PORT: '0',
        ADMIN_PORT: '0',
        ...env,
      },
      timeout: 20_000,
    }).catch(
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

  it('stops with one line per invalid variable, naming each', async () => {
    const result = await start({
      JWT_SECRET: '',
      THROTTLE_LIMIT: 'many',
      LOG_LEVEL: 'loud',
    });
    expect('code' in result && result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'Invalid environment variable JWT_SECRET: must be set',
      'Invalid environment variable LOG_LEVEL: "loud" is not one of fatal, error, warn, info, debug, trace, silent',
      'Invalid environment variable THROTTLE_LIMIT: "many" is not an integer',
    ]);
  });

  it('stops at once with one line saying how to create a missing database', async () => {
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = '/orders_test_missing_database';
    const started = Date.now();
    const result = await start({
      DATABASE_URL: url.toString(),
      DB_MIGRATIONS_RUN: 'true',
    });
    expect('code' in result && result.code).toBe(1);
    expect(`${result.stdout}${result.stderr}`.trim()).toBe(
      `Database "orders_test_missing_database" does not exist on ${url.hostname}:${url.port}: ` +
        `create it (createdb -h ${url.hostname} -U ${url.username} orders_test_missing_database) or fix DATABASE_URL`,
    );
    // Not 28 s of retries: a missing database is not fixed by waiting.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('refuses to start on a build without its migrations (instead of serving 500s on an empty schema)', async () => {
    // A copy of the build without dist/migrations, next to the project's node_modules.
    const dir = mkdtempSync(join(tmpdir(), 'orders-no-migrations-'));
    try {
      cpSync('dist', join(dir, 'dist'), {
        recursive: true,
        filter: (path) => !/dist\/migrations/.test(path),
      });
      symlinkSync(
        join(process.cwd(), 'node_modules'),
        join(dir, 'node_modules'),
      );
      const result = await run(
        process.execPath,
        [join(dir, 'dist', 'main.js')],
        {
          env: {
            ...process.env,
            NODE_ENV: 'test',
            PORT: '0',
            ADMIN_PORT: '0',
            DB_MIGRATIONS_RUN: 'true',
          },
          timeout: 20_000,
        },
      ).catch((error: { code: number; stderr: string }) => error);
      expect('code' in result && result.code).toBe(1);
      expect(result.stderr.trim()).toMatch(
        /^DB_MIGRATIONS_RUN is true but no migrations were found/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says on its start-up line how many migrations this start applied, not how many the schema holds', async () => {
    const database = await createScratchDatabase(
      ADMIN_DATABASE_URL,
      'orders_test_migrations_line',
    );
    const all = readdirSync('migrations').filter((f) => f.endsWith('.ts'));
    const lineOf = async () => {
      const app = await startAppProcess({
        DATABASE_URL: database.url,
        DB_MIGRATIONS_RUN: 'true',
      });
      try {
        await until(() => app.output().includes('orders listening on'));
        return /; ([^;]*migration[^;]*);/.exec(app.output())?.[1];
      } finally {
        await app.stop();
      }
    };
    try {
      expect(await lineOf()).toBe(
        `${all.length} migrations applied (${all.length} in the schema)`,
      );
      expect(await lineOf()).toBe(
        `schema up to date (${all.length} migrations)`,
      );
    } finally {
      await database.drop();
    }
  });
});
