import { renderedDom } from './support/chromium';
import { createTestApp, TestApp } from './support/test-app';

/**
 * Swagger UI in a real headless Chromium, reached by a name other than localhost (browsers exempt
 * localhost from upgrade-insecure-requests, which is how a blank /docs went unnoticed). The name is
 * mapped to 127.0.0.1 inside Chromium, so no traffic leaves the machine.
 */
describe('API docs in a real browser', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('renders the orders operations at /docs over plain HTTP from a non-local host name', async () => {
    const port = new URL(t.url).port;
    // Lets the page load its scripts and fetch /docs-json before the DOM is dumped.
    const stdout = await renderedDom(`http://orders.test:${port}/docs`, [
      'orders.test',
    ]);
    // Rendered by the UI's JavaScript from /docs-json: the operation blocks, not the static shell.
    expect(stdout).toContain('opblock-summary-path');
    expect(stdout).toContain('Create an order (retry-safe)');
    expect(stdout).toContain('/orders/{id}');
  }, 40_000);
});
