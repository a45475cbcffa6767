import { randomBytes, randomUUID } from 'node:crypto';
import {
  createOrder,
  createTestApp,
  newUser,
  send,
  TestApp,
  tokenFor,
  validOrder,
} from './support/test-app';

/** An address of a /64 no other test uses: with TRUST_PROXY, each test gets budgets of its own. */
function freshPrefix(): string {
  const hex = randomBytes(4).toString('hex');
  return `2001:db8:${hex.slice(0, 4)}:${hex.slice(4)}`;
}

describe('Rate limits a caller cannot step around', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      env: {
        TRUST_PROXY: '127.0.0.1',
        THROTTLE_LIMIT: '3',
        WEBHOOK_THROTTLE_LIMIT: '5',
        HEALTH_THROTTLE_LIMIT: '4',
        REDIS_COMMAND_TIMEOUT_MS: '5000',
      },
    });
  });
  afterAll(() => t.close());

  const from = (address: string) => ({
    headers: { 'x-forwarded-for': address },
  });

  it('gives the payment webhook a budget of its own per address, apart from the API budget', async () => {
    const prefix = freshPrefix();
    const deliveries: number[] = [];
    for (let i = 0; i < 6; i++)
      deliveries.push(
        (
          await send(t.url, 'POST', '/webhooks/payments', {
            body: {},
            ...from(`${prefix}::${i + 1}`),
          })
        ).status,
      );
    // Unsigned: 401 until the address's webhook budget (5) is spent.
    expect(deliveries).toEqual([401, 401, 401, 401, 401, 429]);
    // The API budget of the same address is untouched (3 anonymous requests).
    const api = await send(t.url, 'GET', '/orders', from(`${prefix}::9`));
    expect(api.status).toBe(401);
  });

  it('keys anonymous IPv6 callers by their /64, and answers 429 with a sentence and Retry-After', async () => {
    const prefix = freshPrefix();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push(
        (await send(t.url, 'GET', '/orders', from(`${prefix}::${i + 1}`)))
          .status,
      );
    const limited = await send(
      t.url,
      'GET',
      '/orders',
      from(`${prefix}:ffff:ffff:ffff:ffff`),
    );
    expect([...statuses, limited.status]).toEqual([401, 401, 401, 429]);
    expect(limited.body).toEqual({
      error: {
        code: 'TOO_MANY_REQUESTS',
        message:
          'Too many requests: wait for the time in Retry-After, then retry',
      },
    });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(
      1,
    );
    // The next /64 is another customer.
    const [a, b, c, d] = prefix.split(':');
    const neighbour = `${a}:${b}:${c}:${(parseInt(d, 16) ^ 1).toString(16)}::1`;
    expect((await send(t.url, 'GET', '/orders', from(neighbour))).status).toBe(
      401,
    );
  });

  it('tells every limited answer its budget: RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset', async () => {
    const prefix = freshPrefix();
    const limits = (answer: Awaited<ReturnType<typeof send>>) => ({
      status: answer.status,
      limit: answer.headers.get('ratelimit-limit'),
      remaining: answer.headers.get('ratelimit-remaining'),
      reset: Number(answer.headers.get('ratelimit-reset')),
    });
    const api = await send(t.url, 'GET', '/orders', from(`${prefix}::1`));
    expect(limits(api)).toEqual({
      status: 401,
      limit: '3',
      remaining: '2',
      reset: expect.any(Number),
    });
    expect(limits(api).reset).toBeGreaterThan(0);
    const webhook = await send(t.url, 'POST', '/webhooks/payments', {
      body: {},
      ...from(`${prefix}::2`),
    });
    expect(limits(webhook)).toMatchObject({ limit: '5', remaining: '4' });
    // Health probes have a budget of their own per address, too.
    const probes = [];
    for (let i = 0; i < 5; i++)
      probes.push(
        limits(await send(t.url, 'GET', '/health/live', from(`${prefix}::3`))),
      );
    expect(probes.map((p) => [p.status, p.remaining])).toEqual([
      [200, '3'],
      [200, '2'],
      [200, '1'],
      [200, '0'],
      [429, null],
    ]);
    for (const answer of [api, webhook])
      expect(answer.headers.get('ratelimit-limit-webhook')).toBeNull();
  });

  it('counts requests to unknown routes against the caller', async () => {
    const address = `${freshPrefix()}::1`;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push(
        (await send(t.url, 'GET', `/wp-admin/${i}.php`, from(address))).status,
      );
    expect(statuses).toEqual([404, 404, 404, 429]);
    const limited = await send(t.url, 'GET', '/orders', from(address));
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('TOO_MANY_REQUESTS');
  });
});

describe('What a stranger or a client gets back', () => {
  let t: TestApp;
  beforeAll(async () => (t = await createTestApp()));
  afterAll(() => t.close());

  it('names only the fields the API defines: unknown body and query properties are counted, not echoed', async () => {
    const token = tokenFor(newUser());
    const body = await send(t.url, 'POST', '/orders', {
      token,
      key: randomUUID(),
      body: {
        ...validOrder(),
        '<b>evil</b>': 1,
        '<script>x</script>': 2,
        items: [{ sku: 'A-1', quantity: 1, unitPriceCents: 1, '<i>x</i>': 3 }],
      },
    });
    expect(body.status).toBe(400);
    expect(body.body.error.details).toEqual(
      expect.arrayContaining([
        { field: 'body', message: '2 properties are not defined by the API' },
        { field: 'items.0', message: '1 property is not defined by the API' },
      ]),
    );
    const query = await send(t.url, 'GET', '/orders?%3Cb%3Eevil%3C%2Fb%3E=1', {
      token,
    });
    expect(query.status).toBe(400);
    expect(query.body.error.details).toEqual([
      { field: 'query', message: '1 property is not defined by the API' },
    ]);
    for (const answer of [body, query])
      expect(JSON.stringify(answer.body)).not.toMatch(/evil|script|<i>/);
  });

  it('sends Cache-Control: no-store on every authenticated answer, errors included', async () => {
    const token = tokenFor(newUser());
    const created = await createOrder(t, token, randomUUID());
    const answers = [
      created,
      await send(t.url, 'GET', `/orders/${created.body.id}`, { token }),
      await send(t.url, 'GET', '/orders', { token }),
      await send(t.url, 'GET', `/orders/${randomUUID()}`, { token }),
      await send(t.url, 'DELETE', `/orders/${created.body.id}`, { token }),
    ];
    expect(answers.map((a) => a.status)).toEqual([201, 200, 200, 404, 200]);
    for (const answer of answers)
      expect(answer.headers.get('cache-control')).toBe('no-store');
  });
});

describe('DOCS_ENABLED', () => {
  it('turns /docs and /docs-json off (404 in the envelope); on by default', async () => {
    const off = await createTestApp({ env: { DOCS_ENABLED: 'false' } });
    const on = await createTestApp();
    try {
      for (const path of ['/docs', '/docs-json']) {
        const hidden = await send(off.url, 'GET', path);
        expect(hidden.status).toBe(404);
        expect(hidden.body.error.code).toBe('NOT_FOUND');
        expect((await send(on.url, 'GET', path)).status).toBe(200);
      }
    } finally {
      await Promise.all([off.close(), on.close()]);
    }
  });
});
