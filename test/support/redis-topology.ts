import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { createClient } from 'redis';
import { bindable, freePort } from './app-process';
import { startRedisServer, type RedisServer } from './redis-server';

const run = promisify(execFile);

/** One redis-server of a topology, by port. */
export interface RedisNode extends RedisServer {
  port: number;
}

async function startNode(
  args: string[] = [],
  port?: number,
): Promise<RedisNode> {
  const server = await startRedisServer(args, port);
  return { ...server, port: Number(new URL(server.url).port) };
}

/**
 * Cluster nodes take ports from a range of their own, 8000-9999, so that their bus ports (port + 10000,
 * 18000-19999) are also below the tests' per-worker slices (20000-31999) and the kernel's ephemeral
 * range (32768 and up). A bus port in either was once taken by another worker's server or an outgoing
 * connection between the check and redis-server's bind, and the node never started.
 */
const CLUSTER_PORT_BASE = 8_000;
const CLUSTER_PORT_RANGE = 2_000;

async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port =
      CLUSTER_PORT_BASE + Math.floor(Math.random() * CLUSTER_PORT_RANGE);
    if (taken.has(port)) continue;
    // Reserved before the checks: the nodes pick their ports concurrently.
    taken.add(port);
    if ((await bindable(port)) && (await bindable(port + 10_000))) return port;
    taken.delete(port);
  }
}

/** A cluster node; if something outside took its ports after the check, again on new ones. */
async function startClusterNode(
  args: string[],
  taken: Set<number>,
): Promise<RedisNode> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNode(args, await clusterPort(taken));
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

/** Sends one command to one node (a fresh connection: the node may be on its way down). */
export async function nodeCommand(
  port: number,
  args: string[],
): Promise<unknown> {
  const client = createClient({ url: `redis://127.0.0.1:${port}`, RESP: 2 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export interface RedisCluster {
  /** REDIS_URL for REDIS_MODE=cluster: every master, comma-separated. */
  url: string;
  nodes: RedisNode[];
  /** The port of the master serving `key`'s slot. */
  masterFor(key: string): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `masters` masters with one replica each, on free local ports, made with
 * `redis-cli --cluster create`. A node timeout of 1 s lets a replica take over quickly.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const taken = new Set<number>();
  const started = await Promise.allSettled(
    Array.from({ length: masters * 2 }, () =>
      startClusterNode(
        [
          '--cluster-enabled',
          'yes',
          '--cluster-node-timeout',
          '1000',
          '--cluster-replica-validity-factor',
          '0',
        ],
        taken,
      ),
    ),
  );
  const nodes = started.flatMap((s) =>
    s.status === 'fulfilled' ? [s.value] : [],
  );
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  try {
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ]);
    await waitFor('the cluster', async () => {
      for (const node of nodes) {
        const info = String(await nodeCommand(node.port, ['CLUSTER', 'INFO']));
        if (!info.includes('cluster_state:ok')) return false;
      }
      return (await clusterMasters(nodes[0].port)).length === masters;
    });
  } catch (error) {
    await stop();
    throw error;
  }
  const masterPorts = await clusterMasters(nodes[0].port);
  return {
    url: masterPorts.map((port) => `redis://127.0.0.1:${port}`).join(','),
    nodes,
    masterFor: async (key) => {
      const slot = Number(
        await nodeCommand(
          nodes.find((n) => masterPorts.includes(n.port))!.port,
          ['CLUSTER', 'KEYSLOT', key],
        ),
      );
      for (const node of nodes) {
        const owner = await slotOwner(node.port, slot).catch(() => undefined);
        if (owner !== undefined) return owner;
      }
      throw new Error(`no node serves slot ${slot}`);
    },
    stop,
  };
}

/** Ports of the cluster's live masters that serve slots, as one node sees them. */
async function clusterMasters(port: number): Promise<number[]> {
  const text = String(await nodeCommand(port, ['CLUSTER', 'NODES']));
  return text
    .split('\n')
    .map((line) => line.split(' '))
    .filter((parts) => {
      const flags = parts[2]?.split(',') ?? [];
      return (
        flags.includes('master') &&
        !flags.some((f) => f.startsWith('fail')) &&
        parts.length > 8
      );
    })
    .map((parts) => Number(/:(\d+)@/.exec(parts[1])?.[1]));
}

async function slotOwner(port: number, slot: number): Promise<number> {
  const slots = (await nodeCommand(port, ['CLUSTER', 'SLOTS'])) as [
    number,
    number,
    [string, number],
  ][];
  const range = slots.find(([from, to]) => slot >= from && slot <= to);
  if (!range) throw new Error('slot not served');
  return Number(range[2][1]);
}

export interface SentinelSet {
  /** REDIS_URL for REDIS_MODE=sentinel: the three sentinels. */
  url: string;
  masterName: string;
  master: RedisNode;
  replica: RedisNode;
  /** The master the sentinels currently name. */
  currentMasterPort(): Promise<number>;
  stop(): Promise<void>;
}

/** One master, one replica and three sentinels (quorum 2) that fail over after 1 s of silence. */
export async function startSentinelSet(): Promise<SentinelSet> {
  const masterName = 'orders';
  const master = await startNode();
  const replica = await startNode([
    '--replicaof',
    '127.0.0.1',
    String(master.port),
  ]);
  const sentinels: { port: number; stop: () => Promise<void> }[] = [];
  const stop = async () => {
    await Promise.all(
      [...sentinels, master, replica].map((node) => node.stop()),
    );
  };
  try {
    for (let i = 0; i < 3; i++)
      sentinels.push(await startSentinel(masterName, master.port));
    await waitFor(
      'the sentinels to know the replica and each other',
      async () => {
        for (const sentinel of sentinels) {
          const replicas = (await nodeCommand(sentinel.port, [
            'SENTINEL',
            'REPLICAS',
            masterName,
          ])) as unknown[];
          const others = (await nodeCommand(sentinel.port, [
            'SENTINEL',
            'SENTINELS',
            masterName,
          ])) as unknown[];
          if (replicas.length < 1 || others.length < 2) return false;
        }
        return true;
      },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: sentinels.map((s) => `redis://127.0.0.1:${s.port}`).join(','),
    masterName,
    master,
    replica,
    currentMasterPort: async () => {
      const [, port] = (await nodeCommand(sentinels[0].port, [
        'SENTINEL',
        'GET-MASTER-ADDR-BY-NAME',
        masterName,
      ])) as [string, string];
      return Number(port);
    },
    stop,
  };
}

async function startSentinel(
  masterName: string,
  masterPort: number,
): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'orders-sentinel-'));
  const config = join(dir, 'sentinel.conf');
  writeFileSync(
    config,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 2`,
      `sentinel down-after-milliseconds ${masterName} 1000`,
      `sentinel failover-timeout ${masterName} 5000`,
      `sentinel parallel-syncs ${masterName} 1`,
      '',
    ].join('\n'),
  );
  const child = spawn('redis-server', [config, '--sentinel'], {
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      `sentinel on ${port}`,
      async () => (await nodeCommand(port, ['PING'])) === 'PONG',
      10_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, stop };
}
