import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { freePort } from './app-process.ts';

export interface RedisServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** A redis-server of the test's own (from the machine's binary) on a free port, in a temporary directory. */
export async function startRedisServer(
  args: string[] = [],
  port?: number,
  /** `unref`: it does not keep this process alive (the test run's own, stopped by the teardown). */
  options: { detached?: boolean } = {},
): Promise<RedisServer> {
  port ??= await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'orders-redis-'));
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      ...args,
    ],
    { stdio: 'ignore' },
  );
  if (options.detached) child.unref();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  for (let attempt = 0; attempt < 100 && !exitedEarly; attempt++) {
    // No reconnecting: a refused connection must fail this attempt, not retry forever.
    const client = createClient({ url, socket: { reconnectStrategy: false } });
    client.on('error', () => undefined);
    const up = await client.connect().then(
      async () => {
        await client.quit();
        return true;
      },
      () => false,
    );
    if (up) return { url, pid: child.pid!, stop };
    await sleep(50);
  }
  await stop();
  throw new Error(`redis-server did not start on ${url}`);
}
