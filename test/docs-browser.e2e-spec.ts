import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { createTestApp, TestApp } from './support/test-app';

const run = promisify(execFile);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

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
    if (!existsSync(CHROMIUM))
      throw new Error(
        `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`,
      );
    const port = new URL(t.url).port;
    const { stdout } = await run(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--no-first-run',
        '--host-resolver-rules=MAP orders.test 127.0.0.1',
        // Lets the page load its scripts and fetch /docs-json before the DOM is dumped.
        '--virtual-time-budget=15000',
        '--dump-dom',
        `http://orders.test:${port}/docs`,
      ],
      { timeout: 25_000, maxBuffer: 16 * 1024 * 1024 },
    );
    // Rendered by the UI's JavaScript from /docs-json: the operation blocks, not the static shell.
    expect(stdout).toContain('opblock-summary-path');
    expect(stdout).toContain('Create an order (retry-safe)');
    expect(stdout).toContain('/orders/{id}');
  }, 40_000);
});
