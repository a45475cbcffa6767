import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { OrdersApiError, OrdersNetworkError } from './errors';
import { OrdersClient, type OrdersClientOptions } from './orders-client';
import { fullJitterDelayMs, retryAfterMs } from './retry-policy';

const ORDER = {
  id: '5d6c1c3e-7d7a-4c43-9a57-0f4d3c1e2b10',
  status: 'created',
  currency: 'USD',
  items: [{ sku: 'ABC-1', quantity: 2, unitPriceCents: 1999 }],
  totalCents: 3998,
  note: null,
  createdAt: '2026-11-29T12:00:00.000Z',
};
const INPUT = {
  currency: 'USD',
  items: [{ sku: 'ABC-1', quantity: 2, unitPriceCents: 1999 }],
};

type Step = Response | Error | 'hang';
interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

const json = (
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
const envelope = (
  status: number,
  code: string,
  headers: Record<string, string> = {},
) => json(status, { error: { code, message: `${code} happened` } }, headers);

/** A client whose fetch answers with `steps` in order and whose waits are recorded, not slept. */
function clientWith(steps: Step[], options: Partial<OrdersClientOptions> = {}) {
  const sent: Sent[] = [];
  const waits: number[] = [];
  const retries: unknown[] = [];
  const fetch = (url: string, init?: RequestInit) => {
    sent.push({
      url,
      method: init?.method ?? 'GET',
      headers: init?.headers as Record<string, string>,
      body: init?.body as string | undefined,
    });
    const step = steps.shift() ?? new Error('no more steps');
    if (step === 'hang')
      return new Promise<Response>((_, reject) => {
        const signal = init!.signal!;
        if (signal.aborted) reject(signal.reason as Error);
        signal.addEventListener('abort', () => reject(signal.reason as Error));
      });
    return step instanceof Error ? Promise.reject(step) : Promise.resolve(step);
  };
  const client = new OrdersClient({
    baseUrl: 'http://orders.test/',
    token: 'tkn',
    fetch: fetch as unknown as typeof globalThis.fetch,
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
    random: () => 0.5,
    onRetry: (event) => retries.push(event),
    ...options,
  });
  return { client, sent, waits, retries };
}

describe('OrdersClient retry policy (each row of client/README.md)', () => {
  it('retries a network failure with the same idempotency key, and resolves with the order', async () => {
    const { client, sent } = clientWith([
      new TypeError('fetch failed'),
      new TypeError('socket hang up'),
      json(201, ORDER),
    ]);
    const order = await client.createOrder(INPUT);
    expect(order).toEqual({ ...ORDER, etag: '', replayed: false });
    expect(sent).toHaveLength(3);
    const keys = new Set(sent.map((s) => s.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent[0]).toMatchObject({
      url: 'http://orders.test/orders',
      method: 'POST',
    });
    expect(JSON.parse(sent[0].body!)).toEqual(INPUT);
  });

  it('generates a new key per call, and sends the one you pass', async () => {
    const { client, sent } = clientWith([
      json(201, ORDER),
      json(201, ORDER),
      json(201, ORDER),
    ]);
    await client.createOrder(INPUT);
    await client.createOrder(INPUT);
    await client.createOrder(INPUT, { idempotencyKey: 'cart-42' });
    const keys = sent.map((s) => s.headers['idempotency-key']);
    expect(keys[0]).not.toBe(keys[1]);
    expect(keys[2]).toBe('cart-42');
  });

  it('changes an order as a merge patch under If-Match, with one key reused by every retry', async () => {
    const changed = { ...ORDER, metadata: { crmId: 'C-1' } };
    const { client, sent } = clientWith([
      new TypeError('answer lost'),
      envelope(503, 'SERVICE_UNAVAILABLE'),
      json(200, changed, { etag: '"2"', 'idempotent-replayed': 'true' }),
    ]);
    const order = await client.updateOrder(
      ORDER.id,
      { metadata: { crmId: 'C-1' } },
      { ifMatch: '"1"' },
    );
    expect(order).toEqual({ ...changed, etag: '"2"', replayed: true });
    expect(sent).toHaveLength(3);
    for (const attempt of sent) {
      expect(attempt).toMatchObject({
        url: `http://orders.test/orders/${ORDER.id}`,
        method: 'PATCH',
      });
      expect(attempt.headers['content-type']).toBe(
        'application/merge-patch+json',
      );
      expect(attempt.headers['if-match']).toBe('"1"');
      expect(JSON.parse(attempt.body!)).toEqual({ metadata: { crmId: 'C-1' } });
    }
    const keys = new Set(sent.map((s) => s.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('does not retry a stale If-Match (412): the caller must read the order again', async () => {
    const { client, sent } = clientWith([
      envelope(412, 'PRECONDITION_FAILED', { etag: '"3"' }),
    ]);
    await expect(
      client.updateOrder(ORDER.id, { note: 'x' }, { ifMatch: '"1"' }),
    ).rejects.toMatchObject({ status: 412, code: 'PRECONDITION_FAILED' });
    expect(sent).toHaveLength(1);
  });

  it('exposes the ETag of a read, and sends If-Match on a cancel when given', async () => {
    const { client, sent } = clientWith([
      json(200, ORDER, { etag: '"4"' }),
      json(200, { ...ORDER, status: 'cancelled' }, { etag: '"5"' }),
    ]);
    const order = await client.getOrder(ORDER.id);
    expect(order.etag).toBe('"4"');
    const cancelled = await client.cancelOrder(ORDER.id, {
      ifMatch: order.etag,
    });
    expect(cancelled).toMatchObject({ status: 'cancelled', etag: '"5"' });
    expect(sent[1].headers['if-match']).toBe('"4"');
  });

  it('says whether the answer was a replay of an earlier attempt', async () => {
    const { client } = clientWith([
      new TypeError('answer lost'),
      json(201, ORDER, { 'idempotent-replayed': 'true' }),
    ]);
    expect((await client.createOrder(INPUT)).replayed).toBe(true);
  });

  it('retries a timeout (no answer within timeoutMs)', async () => {
    const { client, retries } = clientWith(['hang', json(200, ORDER)], {
      timeoutMs: 20,
    });
    expect(await client.getOrder(ORDER.id)).toEqual({ ...ORDER, etag: '' });
    expect(retries).toMatchObject([
      { attempt: 1, reason: 'timeout', method: 'GET' },
    ]);
  });

  it('retries 409 IDEMPOTENCY_REQUEST_IN_PROGRESS after its Retry-After', async () => {
    const { client, waits, retries } = clientWith([
      envelope(409, 'IDEMPOTENCY_REQUEST_IN_PROGRESS', { 'retry-after': '1' }),
      json(201, ORDER),
    ]);
    await client.createOrder(INPUT);
    expect(waits).toEqual([1000]);
    expect(retries).toMatchObject([
      { reason: 'in_progress', status: 409, delayMs: 1000 },
    ]);
  });

  it.each([
    // The request reached the service too slowly to be read (a slow or overloaded network): nothing was done.
    [408, 'REQUEST_TIMEOUT', 'timeout'],
    [429, 'TOO_MANY_REQUESTS', 'rate_limited'],
    [502, 'BAD_GATEWAY', 'unavailable'],
    [503, 'SERVICE_UNAVAILABLE', 'unavailable'],
    [504, 'GATEWAY_TIMEOUT', 'unavailable'],
  ])('retries %i', async (status, code, reason) => {
    const { client, retries } = clientWith([
      envelope(status, code),
      json(201, ORDER),
    ]);
    await client.createOrder(INPUT);
    expect(retries).toMatchObject([{ reason, status }]);
  });

  it.each([
    [400, 'VALIDATION_FAILED'],
    [401, 'UNAUTHORIZED'],
    [404, 'ORDER_NOT_FOUND'],
    [409, 'SOME_OTHER_CONFLICT'],
    [422, 'IDEMPOTENCY_KEY_REUSED'],
    [500, 'INTERNAL'],
  ])(
    'never retries %i %s: it throws OrdersApiError at once',
    async (status, code) => {
      const { client, sent } = clientWith([
        envelope(status, code, { 'x-request-id': 'req-1' }),
        json(201, ORDER),
      ]);
      const error = await client.createOrder(INPUT).catch((e: unknown) => e);
      expect(sent).toHaveLength(1);
      expect(error).toBeInstanceOf(OrdersApiError);
      expect(error).toMatchObject({
        status,
        code,
        message: `${code} happened`,
        requestId: 'req-1',
        retryable: false,
      });
    },
  );

  it('carries the validation details of a 400', async () => {
    const details = [
      { field: 'items', message: 'items must contain at least 1 elements' },
    ];
    const { client } = clientWith([
      json(400, {
        error: { code: 'VALIDATION_FAILED', message: 'bad', details },
      }),
    ]);
    await expect(client.createOrder(INPUT)).rejects.toMatchObject({ details });
  });

  it('retries GET and DELETE the same way', async () => {
    const { client, sent } = clientWith([
      new TypeError('reset'),
      envelope(503, 'SERVICE_UNAVAILABLE'),
      json(200, ORDER),
      new TypeError('reset'),
      json(200, { ...ORDER, status: 'cancelled' }),
    ]);
    await client.getOrder(ORDER.id);
    expect((await client.cancelOrder(ORDER.id)).status).toBe('cancelled');
    expect(sent.map((s) => s.method)).toEqual([
      'GET',
      'GET',
      'GET',
      'DELETE',
      'DELETE',
    ]);
    expect(sent.every((s) => s.headers['idempotency-key'] === undefined)).toBe(
      true,
    );
  });

  it('gives up after maxRetries retries with the last failure', async () => {
    const { client, sent } = clientWith(
      Array.from({ length: 10 }, () => envelope(503, 'SERVICE_UNAVAILABLE')),
      { maxRetries: 3 },
    );
    await expect(client.createOrder(INPUT)).rejects.toMatchObject({
      status: 503,
      retryable: true,
    });
    expect(sent).toHaveLength(4);
  });

  it('gives up rather than wait past maxElapsedMs', async () => {
    const { client, sent } = clientWith(
      [
        envelope(429, 'TOO_MANY_REQUESTS', { 'retry-after': '30' }),
        json(201, ORDER),
      ],
      { maxElapsedMs: 10_000 },
    );
    await expect(client.createOrder(INPUT)).rejects.toMatchObject({
      status: 429,
    });
    expect(sent).toHaveLength(1);
  });

  it('throws OrdersNetworkError when the network never answers', async () => {
    const { client } = clientWith(
      Array.from({ length: 3 }, () => new TypeError('ECONNREFUSED')),
      { maxRetries: 2 },
    );
    const error = await client.getOrder(ORDER.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OrdersNetworkError);
    expect(error).toMatchObject({ timedOut: false, retryable: true });
  });

  it("says which request failed and why: method, URL and the cause's code", async () => {
    const refused = Object.assign(new TypeError('fetch failed'), {
      cause: Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:3000'), {
        code: 'ECONNREFUSED',
      }),
    });
    const everyAddress = Object.assign(new TypeError('fetch failed'), {
      cause: new AggregateError([
        Object.assign(new Error('connect ENETUNREACH ::1'), {
          code: 'ENETUNREACH',
        }),
      ]),
    });
    for (const [cause, code] of [
      [refused, 'ECONNREFUSED'],
      [everyAddress, 'ENETUNREACH'],
    ] as const) {
      const { client } = clientWith([cause], { maxRetries: 0 });
      const error = await client.getOrder(ORDER.id).catch((e: unknown) => e);
      expect(error).toMatchObject({
        method: 'GET',
        url: `http://orders.test/orders/${ORDER.id}`,
        code,
        message: `GET http://orders.test/orders/${ORDER.id} failed: ${code}`,
      });
    }
  });

  it('names ECONNREFUSED from the real fetch, against a port nobody listens on', async () => {
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    await new Promise((done) => server.close(done));
    const client = new OrdersClient({
      baseUrl: `http://127.0.0.1:${port}`,
      token: 'tkn',
      maxRetries: 0,
    });
    const error = await client
      .createOrder(INPUT, { idempotencyKey: 'k-1' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OrdersNetworkError);
    expect(error).toMatchObject({
      code: 'ECONNREFUSED',
      message: `POST http://127.0.0.1:${port}/orders failed: ECONNREFUSED`,
    });
  });

  it('backs off with full jitter when there is no Retry-After', async () => {
    const { client, waits } = clientWith(
      [
        ...Array.from({ length: 4 }, () => new TypeError('reset')),
        json(201, ORDER),
      ],
      { baseDelayMs: 100, maxDelayMs: 500, random: () => 0.999 },
    );
    await client.createOrder(INPUT);
    expect(waits).toEqual([99, 199, 399, 499]);
  });

  it('waits for RateLimit-Reset on a 429 without Retry-After', async () => {
    const { client, waits } = clientWith(
      [
        envelope(429, 'TOO_MANY_REQUESTS', {
          'ratelimit-limit': '300',
          'ratelimit-remaining': '0',
          'ratelimit-reset': '7',
        }),
        json(201, ORDER),
      ],
      { maxElapsedMs: 60_000 },
    );
    await client.createOrder(INPUT);
    expect(waits).toEqual([7000]);
  });

  it('caps a Retry-After at maxRetryAfterMs', async () => {
    const { client, waits } = clientWith(
      [
        envelope(503, 'SERVICE_UNAVAILABLE', { 'retry-after': '3600' }),
        json(201, ORDER),
      ],
      { maxRetryAfterMs: 2000, maxElapsedMs: 10_000 },
    );
    await client.createOrder(INPUT);
    expect(waits).toEqual([2000]);
  });

  it('stops at once when the caller aborts, and never retries after it', async () => {
    const controller = new AbortController();
    const { client, sent } = clientWith(['hang', json(201, ORDER)], {
      timeoutMs: 5000,
    });
    const call = client.createOrder(INPUT, { signal: controller.signal });
    controller.abort(new Error('user left'));
    await expect(call).rejects.toThrow('user left');
    expect(sent).toHaveLength(1);
  });

  it('asks the token function before every attempt (a refreshed token is used)', async () => {
    let n = 0;
    const { client, sent } = clientWith(
      [envelope(503, 'SERVICE_UNAVAILABLE'), json(200, ORDER)],
      {
        token: () => Promise.resolve(`t${++n}`),
      },
    );
    await client.getOrder(ORDER.id);
    expect(sent.map((s) => s.headers.authorization)).toEqual([
      'Bearer t1',
      'Bearer t2',
    ]);
  });

  it('walks every page, newest first, following nextCursor', async () => {
    const second = { ...ORDER, id: 'b' };
    const { client, sent } = clientWith([
      json(200, { data: [ORDER], nextCursor: 'c1' }),
      json(200, { data: [second], nextCursor: null }),
    ]);
    const ids: string[] = [];
    for await (const order of client.orders({ limit: 1 })) ids.push(order.id);
    expect(ids).toEqual([ORDER.id, 'b']);
    expect(sent.map((s) => s.url)).toEqual([
      'http://orders.test/orders?limit=1',
      'http://orders.test/orders?limit=1&cursor=c1',
    ]);
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-11-29T12:00:00Z');
  it('reads whole seconds and HTTP dates; a past date is now; junk is ignored', () => {
    expect(retryAfterMs('5', now)).toBe(5000);
    expect(retryAfterMs('Sun, 29 Nov 2026 12:00:07 GMT', now)).toBe(7000);
    expect(retryAfterMs('Sun, 29 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});

describe('fullJitterDelayMs', () => {
  it('stays within [0, min(cap, base x 2^(attempt-1)))', () => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      const ceiling = Math.min(1000, 50 * 2 ** (attempt - 1));
      expect(fullJitterDelayMs(attempt, 50, 1000, () => 0)).toBe(0);
      const top = fullJitterDelayMs(attempt, 50, 1000, () => 0.999999);
      expect(top).toBeLessThan(ceiling);
      expect(top).toBeGreaterThanOrEqual(ceiling - 1);
    }
  });
});
