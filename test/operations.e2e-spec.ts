import {
  createOrder,
  createTestApp,
  newUser,
  send,
  TestApp,
  tokenFor,
} from './support/test-app';

describe('Security headers and CORS', () => {
  let t: TestApp;
  let withCors: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    withCors = await createTestApp({
      env: { CORS_ORIGINS: 'https://shop.example.com' },
    });
  });
  afterAll(async () => {
    await t.close();
    await withCors.close();
  });

  it('sends helmet security headers on every response, errors included', async () => {
    for (const response of [
      await send(t.url, 'GET', '/health/live'),
      await send(t.url, 'GET', '/orders'), // 401
    ]) {
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(response.headers.get('strict-transport-security')).toMatch(
        /max-age=/,
      );
      expect(response.headers.get('content-security-policy')).toMatch(
        /default-src 'self'/,
      );
    }
  });

  it('has CORS off by default: no Access-Control-* headers for any origin', async () => {
    const preflight = await send(t.url, 'OPTIONS', '/orders', {
      headers: {
        origin: 'https://shop.example.com',
        'access-control-request-method': 'POST',
      },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows exactly the origins in CORS_ORIGINS, exposing the retry headers', async () => {
    const preflight = await send(withCors.url, 'OPTIONS', '/orders', {
      headers: {
        origin: 'https://shop.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,idempotency-key',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(
      'https://shop.example.com',
    );
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(
      /idempotency-key/,
    );
    const user = newUser();
    const created = await send(withCors.url, 'POST', '/orders', {
      token: tokenFor(user),
      key: 'cors-1',
      body: {
        currency: 'USD',
        items: [{ sku: 'A', quantity: 1, unitPriceCents: 1 }],
      },
      headers: { origin: 'https://shop.example.com' },
    });
    expect(created.headers.get('access-control-expose-headers')).toMatch(
      /idempotent-replayed/,
    );
    const stranger = await send(withCors.url, 'GET', '/health/live', {
      headers: { origin: 'https://evil.example.net' },
    });
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('keeps the 64 KiB body limit: 413 in the envelope', async () => {
    const response = await createOrder(t, tokenFor(newUser()), 'big-1', {
      currency: 'USD',
      items: [{ sku: 'A', quantity: 1, unitPriceCents: 1 }],
      note: 'x'.repeat(70 * 1024),
    });
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });
});
