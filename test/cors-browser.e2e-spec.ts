import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CORS_POLICY } from '../src/common/cors';
import { renderedDom } from './support/chromium';
import {
  createTestApp,
  newUser,
  TestApp,
  tokenFor,
  validOrder,
} from './support/test-app';

/** The shop's page: creates, replays and cancels an order on the API, and writes what it read. */
function shopPage(api: string, token: string, key: string): string {
  const script = `
    const api = ${JSON.stringify(api)};
    const auth = { authorization: 'Bearer ' + ${JSON.stringify(token)} };
    const create = () => fetch(api + '/orders', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': ${JSON.stringify(key)} },
      body: JSON.stringify(${JSON.stringify(validOrder())}),
    });
    const seen = (r) => ({
      status: r.status,
      location: r.headers.get('location'),
      replayed: r.headers.get('idempotent-replayed'),
      requestId: r.headers.get('x-request-id'),
      rateLimit: r.headers.get('ratelimit-limit'),
    });
    (async () => {
      const first = await create();
      const order = await first.json();
      const replay = await create();
      const cancel = await fetch(api + '/orders/' + order.id, { method: 'DELETE', headers: auth });
      return { id: order.id, first: seen(first), replay: seen(replay), cancel: { ...seen(cancel), status: cancel.status, order: await cancel.json() } };
    })().then(
      (result) => { document.getElementById('out').textContent = JSON.stringify(result); },
      (error) => { document.getElementById('out').textContent = 'failed: ' + error; },
    );`;
  return `<!doctype html><html><body><pre id="out">pending</pre><script>${script}</script></body></html>`;
}

/**
 * A page on another origin (shop.test, its own server) calling the API (orders.test) from a real
 * headless Chromium: the browser's own preflight and exposed-header rules decide what the page can
 * do and read. Both names map to 127.0.0.1 inside Chromium.
 */
describe('CORS from a real browser on another origin', () => {
  let shop: Server;
  let shopPort: number;
  let t: TestApp;
  let page = '';
  beforeAll(async () => {
    shop = createServer((_, response) =>
      response.writeHead(200, { 'content-type': 'text/html' }).end(page),
    );
    await new Promise<void>((resolve) => shop.listen(0, '127.0.0.1', resolve));
    shopPort = (shop.address() as AddressInfo).port;
    t = await createTestApp({
      env: { CORS_ORIGINS: `http://shop.test:${shopPort}` },
    });
  });
  afterAll(async () => {
    await t.close();
    await new Promise((resolve) => shop.close(resolve));
  });

  it('creates, replays and cancels an order, reading Location, Idempotent-Replayed, X-Request-Id and the rate limit', async () => {
    const apiPort = new URL(t.url).port;
    page = shopPage(
      `http://orders.test:${apiPort}`,
      tokenFor(newUser()),
      randomUUID(),
    );
    const stdout = await renderedDom(`http://shop.test:${shopPort}/`, [
      'orders.test',
      'shop.test',
    ]);
    const text = /<pre id="out">([^<]*)<\/pre>/.exec(stdout)?.[1] ?? stdout;
    const result = JSON.parse(text.replace(/&amp;/g, '&'));
    expect(result.first).toMatchObject({
      status: 201,
      location: `/orders/${result.id}`,
      replayed: null,
      requestId: expect.any(String),
      rateLimit: expect.any(String),
    });
    expect(result.replay).toMatchObject({ status: 201, replayed: 'true' });
    expect(result.cancel).toMatchObject({
      status: 200,
      order: { id: result.id, status: 'cancelled' },
    });
  }, 40_000);

  it('answers a preflight with the methods and headers of the API', async () => {
    const preflight = await fetch(`${t.url}/orders/${randomUUID()}`, {
      method: 'OPTIONS',
      headers: {
        origin: `http://shop.test:${shopPort}`,
        'access-control-request-method': 'DELETE',
        'access-control-request-headers': 'authorization,if-match',
      },
    });
    expect(preflight.status).toBe(204);
    expect(
      preflight.headers.get('access-control-allow-methods')?.split(/,\s*/),
    ).toEqual([...CORS_POLICY.methods]);
    expect(
      preflight.headers.get('access-control-allow-headers')?.split(/,\s*/),
    ).toEqual([...CORS_POLICY.allowedHeaders]);
  });
});
