import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './app-process';

export interface NatsServer {
  url: string;
  port: number;
  /** Stops it (SIGKILL: as a crash); its store stays, so `start()` brings it back with its streams. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Kills it and deletes its store. */
  stop(): Promise<void>;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('data', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A nats-server with JetStream of the test's own (the machine's binary), on a free port, its store in a temp dir. */
export async function startNatsServer(): Promise<NatsServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'orders-nats-'));
  let exited: Promise<unknown> = Promise.resolve();
  let kill = () => undefined as unknown;
  const start = async () => {
    const child = spawn(
      'nats-server',
      ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir],
      { stdio: 'ignore' },
    );
    exited = new Promise((resolve) => child.once('exit', resolve));
    kill = () => child.kill('SIGKILL');
    for (let attempt = 0; attempt < 200; attempt++) {
      // The server greets a client with INFO as soon as it listens.
      if (await answers(port)) return;
      await sleep(25);
    }
    throw new Error(`nats-server did not start on port ${port}`);
  };
  await start();
  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    start,
    kill: async () => {
      kill();
      await exited;
    },
    stop: async () => {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
