import {
  type ChildProcess,
  execFile,
  execFileSync,
  spawn,
} from 'node:child_process';
import {
  chownSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './app-process.ts';
import {
  haproxyConfig,
  patroniConfig,
  postgresAccount,
  SCOPE,
} from './ha-config.ts';
import { removeDeadRunDirs, runPid } from './run-world.ts';
import { TcpProxy } from './tcp-proxy.ts';

/**
 * A Postgres high-availability topology from Debian's packages, as Patroni's documentation sets it
 * up: one etcd (v3 API) as the DCS, three PostgreSQL 15 nodes under Patroni with synchronous mode
 * (strict unless `synchronous: false`), and HAProxy sending every connection to the node whose
 * Patroni REST API answers 200 on `/primary`, cutting the sessions of a node it marks down.
 *
 * Every path between members crosses a TcpProxy the harness owns: HAProxy and the other nodes reach a
 * node's Postgres and REST API through it, and its Patroni reaches etcd through one. `cut(node)`
 * severs all three, which fences the node the way a lost network does: it can neither keep the
 * leader key nor replicate, and HAProxy's check of it fails.
 */
export interface HaNode {
  name: string;
  /** The port Postgres listens on (its Patroni connects here directly). */
  pgPort: number;
  restPort: number;
  dataDir: string;
  configFile: string;
  /** What the others see of this node: Postgres, REST API, and its own way to etcd. */
  proxies: { postgres: TcpProxy; rest: TcpProxy; dcs: TcpProxy };
}

export interface HaTopology {
  /** HAProxy's address: the one the app connects to (database `postgres`). */
  url: string;
  nodes: HaNode[];
  synchronous: boolean;
  /** The node Patroni names leader, from the members' own REST answers. */
  leader(): Promise<HaNode>;
  /** Resolves once a leader, a synchronous standby (in synchronous mode) and every node stream. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** SIGKILLs the postmaster of `node` (Patroni notices and acts). */
  killPostmaster(node: HaNode): void;
  cut(node: HaNode): void;
  restore(node: HaNode): void;
  /** `patronictl switchover` to `candidate` (default: any standby Patroni chooses). */
  switchover(candidate?: HaNode): Promise<string>;
  stop(): Promise<void>;
}

const execFileAsync = promisify(execFile);

interface ClusterView {
  members: { name: string; role: string; state: string; lag?: unknown }[];
}

interface Managed {
  child: ChildProcess;
  exited: Promise<unknown>;
}

function launch(
  command: string,
  args: string[],
  logFile: string,
  options: { uid?: number; gid?: number; env?: Record<string, string> } = {},
): Managed {
  const log = openSync(logFile, 'a');
  const child = spawn(command, args, {
    stdio: ['ignore', log, log],
    uid: options.uid,
    gid: options.gid,
    env: { ...process.env, ...options.env },
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return { child, exited };
}

async function getJson<T>(url: string): Promise<T | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return (await response.json()) as T;
  } catch {
    return undefined;
  }
}

/** Starts etcd, three Patroni nodes (the first bootstraps, the others clone it) and HAProxy. */
export async function startHaTopology(
  options: { synchronous?: boolean; nodes?: number } = {},
): Promise<HaTopology> {
  const synchronous = options.synchronous ?? true;
  // A harness killed mid-run leaves its Patroni, postgres, etcd and HAProxy running.
  removeDeadRunDirs('/tmp');
  // Under /tmp, not the run's TMPDIR: the postgres account must reach it.
  const dir = mkdtempSync(join('/tmp', `orders-ha-r${runPid()}-`));
  const account = postgresAccount();
  const managed: Managed[] = [];
  const proxies: TcpProxy[] = [];
  const stopAll = async () => {
    for (const { child } of managed.slice().reverse()) child.kill('SIGTERM');
    await Promise.race([
      Promise.all(managed.map((m) => m.exited)),
      sleep(20_000),
    ]);
    for (const { child } of managed) child.kill('SIGKILL');
    killLeftoverPostmasters(nodes);
    await Promise.all(proxies.map((p) => p.close()));
    rmSync(dir, { recursive: true, force: true });
  };
  const nodes: HaNode[] = [];
  try {
    const etcdClient = await freePort();
    const etcdPeer = await freePort();
    managed.push(
      launch(
        'etcd',
        [
          '--name=dcs',
          `--data-dir=${join(dir, 'etcd')}`,
          `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
          `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-cluster=dcs=http://127.0.0.1:${etcdPeer}`,
        ],
        join(dir, 'etcd.log'),
      ),
    );
    await until(
      async () =>
        (
          await getJson<{ health?: string }>(
            `http://127.0.0.1:${etcdClient}/health`,
          )
        )?.health === 'true',
      30_000,
      'etcd did not answer /health',
    );
    for (let i = 1; i <= (options.nodes ?? 3); i++) {
      const pgPort = await freePort();
      const restPort = await freePort();
      const node = {
        name: `pg${i}`,
        pgPort,
        restPort,
        dataDir: join(dir, `pg${i}`),
        proxies: {
          postgres: await TcpProxy.start(`tcp://127.0.0.1:${pgPort}`),
          rest: await TcpProxy.start(`tcp://127.0.0.1:${restPort}`),
          dcs: await TcpProxy.start(`tcp://127.0.0.1:${etcdClient}`),
        },
      };
      proxies.push(...Object.values(node.proxies));
      const configFile = join(dir, `${node.name}.yml`);
      mkdirSync(join(dir, 'log', node.name), { recursive: true });
      // YAML is a superset of JSON: the config needs no YAML writer.
      writeFileSync(
        configFile,
        JSON.stringify(patroniConfig(dir, node, synchronous), null, 1),
      );
      nodes.push({ ...node, configFile });
    }
    chownTree(dir, account);
    const startNode = (node: HaNode) =>
      managed.push(
        launch('patroni', [node.configFile], join(dir, `${node.name}.out`), {
          ...account,
          env: { HOME: dir, PGHOST: dir },
        }),
      );
    startNode(nodes[0]);
    await until(
      async () =>
        (
          await fetch(`http://127.0.0.1:${nodes[0].restPort}/primary`, {
            signal: AbortSignal.timeout(2000),
          }).catch(() => undefined)
        )?.status === 200,
      60_000,
      `${nodes[0].name} did not bootstrap as primary (see ${dir})`,
    );
    for (const node of nodes.slice(1)) startNode(node);
    const haproxyPort = await freePort();
    const haproxyFile = join(dir, 'haproxy.cfg');
    writeFileSync(haproxyFile, haproxyConfig(haproxyPort, nodes));
    managed.push(
      launch('haproxy', ['-db', '-f', haproxyFile], join(dir, 'haproxy.log')),
    );
    const topology = haTopology(
      `postgres://postgres@127.0.0.1:${haproxyPort}/postgres`,
      nodes,
      synchronous,
      stopAll,
    );
    await topology.waitHealthy(120_000);
    return topology;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function haTopology(
  url: string,
  nodes: HaNode[],
  synchronous: boolean,
  stop: () => Promise<void>,
): HaTopology {
  const cutNodes = new Set<HaNode>();
  const view = async (): Promise<ClusterView | undefined> => {
    for (const node of nodes.filter((n) => !cutNodes.has(n))) {
      const answer = await getJson<ClusterView>(
        `http://127.0.0.1:${node.restPort}/cluster`,
      );
      if (answer?.members) return answer;
    }
    return undefined;
  };
  const leaderName = async () =>
    (await view())?.members.find((m) => m.role === 'leader')?.name;
  return {
    url,
    nodes,
    synchronous,
    async leader() {
      let name: string | undefined;
      await until(
        async () => (name = await leaderName()) !== undefined,
        60_000,
        'no leader within 60 s',
      );
      return nodes.find((node) => node.name === name)!;
    },
    async waitHealthy(timeoutMs = 90_000) {
      await until(
        async () => {
          const members = (await view())?.members ?? [];
          const leader = members.find((m) => m.role === 'leader');
          const standbys = members.filter((m) => m.role !== 'leader');
          return (
            members.length === nodes.length &&
            leader?.state === 'running' &&
            standbys.every(
              (m) =>
                ['running', 'streaming'].includes(m.state) &&
                typeof m.lag === 'number' &&
                m.lag < 1 << 20,
            ) &&
            (!synchronous || standbys.some((m) => m.role === 'sync_standby'))
          );
        },
        timeoutMs,
        'the cluster did not become healthy (a leader, a synchronous standby, all streaming)',
      );
    },
    killPostmaster(node) {
      const pid = Number(
        readFileSync(join(node.dataDir, 'postmaster.pid'), 'utf8').split(
          '\n',
        )[0],
      );
      process.kill(pid, 'SIGKILL');
    },
    cut(node) {
      cutNodes.add(node);
      for (const proxy of Object.values(node.proxies)) proxy.cut();
    },
    restore(node) {
      cutNodes.delete(node);
      for (const proxy of Object.values(node.proxies)) proxy.restore();
    },
    async switchover(candidate) {
      const leader = await leaderName();
      const via = nodes.find((n) => !cutNodes.has(n))!;
      // Not execFileSync: the proxies between the members live in this process and must keep
      // forwarding while patronictl talks to them.
      const { stdout } = await execFileAsync(
        'patronictl',
        [
          '-c',
          via.configFile,
          'switchover',
          '--leader',
          leader ?? '',
          ...(candidate ? ['--candidate', candidate.name] : []),
          '--force',
          SCOPE,
        ],
        { env: { ...process.env, HOME: tmpdir() }, timeout: 60_000 },
      );
      return stdout;
    },
    stop,
  };
}

function chownTree(dir: string, account: { uid: number; gid: number }): void {
  execFileSync('chown', ['-R', `${account.uid}:${account.gid}`, dir]);
  chownSync(dir, account.uid, account.gid);
}

/** A postmaster whose Patroni was SIGKILLed keeps running: stop it by its pid file. */
function killLeftoverPostmasters(nodes: HaNode[]): void {
  for (const node of nodes) {
    try {
      const pid = Number(
        readFileSync(join(node.dataDir, 'postmaster.pid'), 'utf8').split(
          '\n',
        )[0],
      );
      if (pid > 0) process.kill(pid, 'SIGQUIT');
    } catch {
      // no pid file: not running
    }
  }
}

async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  message: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(message);
}
