import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { freePort } from './app-process.ts';

export interface NatsServer {
  url: string;
  port: number;
  /** Stops it (SIGKILL: as a crash); its store stays, so `start()` brings it back with its streams. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Kills it and deletes its store. */
  stop(): Promise<void>;
}

export interface NatsNode extends NatsServer {
  /** Its server_name: what JetStream names as a stream's leader. */
  name: string;
}

export interface NatsCluster {
  nodes: NatsNode[];
  /** Every node's client URL, comma-separated (the form NATS_URL takes). */
  urls: string;
  stop(): Promise<void>;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, '127.0.0.1');
    socket.once('data', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A nats-server process (the machine's binary) that can be killed and started again on its port. */
async function natsProcess(
  port: number,
  dir: string,
  args: string[],
  env?: Record<string, string>,
): Promise<NatsServer> {
  let exited: Promise<unknown> = Promise.resolve();
  let kill = () => undefined as unknown;
  const start = async () => {
    const child = spawn('nats-server', args, {
      stdio: 'ignore',
      env: env ? { ...process.env, ...env } : process.env,
    });
    exited = new Promise((resolve) => child.once('exit', resolve));
    kill = () => child.kill('SIGKILL');
    for (let attempt = 0; attempt < 400; attempt++) {
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

/**
 * A nats-server with JetStream of the test's own, on a free port, its store in a temp dir; with
 * `config`, that configuration file (its listen address and store overridden), and `env` for the
 * variables it names.
 */
export async function startNatsServer(
  options: { config?: string; env?: Record<string, string> } = {},
): Promise<NatsServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'orders-nats-'));
  return natsProcess(
    port,
    dir,
    [
      ...(options.config ? ['-c', options.config] : []),
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '-js',
      '-sd',
      dir,
    ],
    options.env,
  );
}

/**
 * A JetStream cluster of `size` nodes of the test's own, on free ports, resolved once its meta
 * leader is elected (JetStream answers). The nodes do not advertise each other to clients, so a
 * client reaches only the URLs it was given: a test can put proxies in front and cut them.
 */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const clientPorts: number[] = [];
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) {
    clientPorts.push(await freePort());
    routePorts.push(await freePort());
  }
  const clusterName = `orders-test-${clientPorts[0]}`;
  const nodes = await Promise.all(
    clientPorts.map(async (port, i): Promise<NatsNode> => {
      const dir = mkdtempSync(join(tmpdir(), 'orders-nats-cluster-'));
      const name = `n${i + 1}-${port}`;
      const routes = routePorts
        .filter((_, j) => j !== i)
        .map((p) => `nats-route://127.0.0.1:${p}`);
      const config = join(dir, 'nats.conf');
      writeFileSync(
        config,
        [
          `server_name: ${name}`,
          `listen: 127.0.0.1:${port}`,
          `jetstream { store_dir: "${join(dir, 'store')}" }`,
          `cluster {`,
          `  name: ${clusterName}`,
          `  listen: 127.0.0.1:${routePorts[i]}`,
          `  routes: [${routes.join(', ')}]`,
          `  no_advertise: true`,
          `}`,
        ].join('\n'),
      );
      return { name, ...(await natsProcess(port, dir, ['-c', config])) };
    }),
  );
  const urls = nodes.map((node) => node.url).join(',');
  const nc = await connect({ servers: urls.split(',') });
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await (await jetstreamManager(nc)).getAccountInfo();
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(100);
      }
    }
  } finally {
    await nc.close();
  }
  return {
    nodes,
    urls,
    stop: async () => {
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
}
