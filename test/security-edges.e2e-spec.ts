import { randomBytes } from 'node:crypto';
import { createTestApp, send, TestApp } from './support/test-app';

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
