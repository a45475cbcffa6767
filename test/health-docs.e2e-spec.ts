import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TcpProxy } from './support/tcp-proxy';
import { createTestApp, send, TestApp } from './support/test-app';

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

  it('GET /health/ready needs Postgres and reports Redis as degraded without failing', async () => {
    await waitFor(
      async () =>
        (await send(t.url, 'GET', '/health/ready')).body?.info?.redis
          ?.status === 'up',
    );
    redis.cut();
    const noRedis = await send(t.url, 'GET', '/health/ready');
    expect(noRedis.status).toBe(200);
    expect(noRedis.body.info.redis.status).toBe('degraded');
    redis.restore();
    postgres.cut();
    const noPostgres = await send(t.url, 'GET', '/health/ready');
    postgres.restore();
    expect(noPostgres.status).toBe(503);
    expect(noPostgres.body.error.code).toBe('SERVICE_UNAVAILABLE');
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
      '503',
    ]);
    expect(create.responses['201'].headers).toHaveProperty(
      'Idempotent-Replayed',
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

  it('stops with one line naming a missing variable', async () => {
    const env = { ...process.env, JWT_SECRET: '', NODE_ENV: 'test' };
    const result = await run(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', 'src/main.ts'],
      { env },
    ).catch((error: { code: number; stderr: string }) => error);
    expect('code' in result && result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      'Invalid environment variable JWT_SECRET: must be set',
    );
  });
});

async function waitFor(
  condition: () => Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
