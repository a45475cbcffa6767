import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Loads `url` in a real headless Chromium and returns the DOM once the page's scripts have run (a
 * virtual-time budget of 15 s). `hosts` are names mapped to 127.0.0.1 inside Chromium, so that pages
 * can be reached by names other than localhost without any traffic leaving the machine.
 */
export async function renderedDom(
  url: string,
  hosts: string[],
): Promise<string> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`,
    );
  const { stdout } = await run(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--disable-background-networking',
      `--host-resolver-rules=${hosts.map((host) => `MAP ${host} 127.0.0.1`).join(', ')}`,
      '--virtual-time-budget=15000',
      '--dump-dom',
      url,
    ],
    { timeout: 25_000, maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout;
}
