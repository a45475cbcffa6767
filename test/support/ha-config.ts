import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { HaNode } from './patroni-cluster.ts';

/**
 * What the HA topology (patroni-cluster.ts) is made of: Debian's binaries, the account Postgres runs
 * as, and the configuration of Patroni and HAProxy that npm run test:ha uses (docs/high-availability.md;
 * deploy/ha holds the same settings for compose).
 */
export const BIN_DIR = '/usr/lib/postgresql/15/bin';
/** Patroni's cluster name (`scope`): what patronictl names. */
export const SCOPE = 'orders-ha';

/** etcd, Patroni and HAProxy are Debian packages; a machine without them cannot run the topology. */
export function missingHaBinaries(): string[] {
  return ['patroni', 'patronictl', 'etcd', 'haproxy'].filter((binary) => {
    try {
      execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

/** Postgres refuses to run as root: the nodes run as the `postgres` account Debian's packages create. */
export function postgresAccount(): { uid: number; gid: number } {
  const [uid, gid] = ['-u', '-g'].map((flag) =>
    Number(execFileSync('id', [flag, 'postgres']).toString().trim()),
  );
  return { uid, gid };
}

/** One node's Patroni configuration (written as JSON: YAML is a superset). */
export function patroniConfig(
  dir: string,
  node: Omit<HaNode, 'configFile'>,
  synchronous: boolean,
): object {
  return {
    scope: SCOPE,
    name: node.name,
    log: { level: 'INFO', dir: join(dir, 'log', node.name) },
    restapi: {
      listen: `127.0.0.1:${node.restPort}`,
      connect_address: `127.0.0.1:${node.proxies.rest.port}`,
    },
    // use_proxies: talk to etcd only through this address, never to the members etcd advertises
    // (which would go around the node's proxy, and a cut node would keep its leader key).
    etcd3: { hosts: `127.0.0.1:${node.proxies.dcs.port}`, use_proxies: true },
    bootstrap: {
      dcs: {
        // Patroni's smallest TTL; loop_wait + 2 * retry_timeout <= ttl, as its documentation requires.
        ttl: 20,
        loop_wait: 2,
        retry_timeout: 5,
        maximum_lag_on_failover: 1048576,
        synchronous_mode: synchronous,
        synchronous_mode_strict: synchronous,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: {
            max_connections: 200,
            wal_log_hints: 'on',
            wal_keep_size: '256MB',
          },
        },
      },
      initdb: [{ encoding: 'UTF8' }, { locale: 'C.UTF-8' }, 'data-checksums'],
      pg_hba: [
        'local all all trust',
        'host replication replicator 127.0.0.1/32 trust',
        'host all all 127.0.0.1/32 trust',
      ],
    },
    postgresql: {
      listen: `127.0.0.1:${node.pgPort}`,
      connect_address: `127.0.0.1:${node.proxies.postgres.port}`,
      data_dir: node.dataDir,
      bin_dir: BIN_DIR,
      pgpass: join(dir, `pgpass-${node.name}`),
      authentication: {
        superuser: { username: 'postgres', password: 'postgres' },
        replication: { username: 'replicator', password: 'replicator' },
        rewind: { username: 'postgres', password: 'postgres' },
      },
      parameters: { unix_socket_directories: dir },
    },
  };
}

/** HAProxy in front of `nodes`, as Patroni's documentation sets it up. */
export function haproxyConfig(port: number, nodes: HaNode[]): string {
  return [
    'global',
    '  maxconn 1000',
    'defaults',
    '  mode tcp',
    '  retries 2',
    '  timeout client 30m',
    '  timeout connect 2s',
    '  timeout server 30m',
    '  timeout check 2s',
    'listen primary',
    `  bind 127.0.0.1:${port}`,
    // Patroni's REST API answers 200 on /primary only on the node holding the leader key and running
    // as primary; a node marked down has its sessions cut, so nobody stays on a demoted primary.
    '  option httpchk OPTIONS /primary',
    '  http-check expect status 200',
    '  default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions',
    ...nodes.map(
      (node) =>
        `  server ${node.name} 127.0.0.1:${node.proxies.postgres.port} maxconn 300 check port ${node.proxies.rest.port}`,
    ),
    '',
  ].join('\n');
}
