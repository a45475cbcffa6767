import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM, renderedDom } from './support/chromium';
import { createTestApp, newUser, TestApp, tokenFor } from './support/test-app';

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

  it('"Try it out" -> "Execute" on POST /orders creates an order on the instance serving the page', async () => {
    const port = new URL(t.url).port;
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-dev-shm-usage',
          '--disable-background-networking',
          '--host-resolver-rules=MAP orders.test 127.0.0.1',
        ],
      });
      const page = await browser.newPage();
      await page.goto(`http://orders.test:${port}/docs`);
      // The bearer token, through the page's own Authorize dialog.
      await page.locator('button.authorize').first().click();
      const bearer = page.locator('.auth-container form', {
        hasText: 'bearer (http, Bearer)',
      });
      await bearer.locator('input').fill(tokenFor(newUser()));
      await bearer.locator('button.authorize').click();
      await bearer.locator('button.btn-done').click();
      const create = page.locator('.opblock-post', {
        has: page.locator('.opblock-summary-path[data-path="/orders"]'),
      });
      await create.locator('.opblock-summary').click();
      await create.locator('button.try-out__btn').click();
      await create
        .locator('tr[data-param-name="Idempotency-Key"] input')
        .fill(`docs-${Date.now()}`);
      await create.locator('button.execute').click();
      const status = create.locator(
        '.live-responses-table tr.response .response-col_status',
      );
      await status.first().waitFor({ timeout: 15_000 });
      expect((await status.first().textContent())?.trim()).toBe('201');
      expect(await create.locator('.request-url').textContent()).toContain(
        `http://orders.test:${port}/orders`,
      );
    } finally {
      await browser?.close();
    }
  }, 60_000);
});
