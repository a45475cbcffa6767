import { Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import {
  createClient,
  createCluster,
  createSentinel,
  DisconnectsClientError,
  RESP_TYPES,
} from 'redis';
import type { redisConfig } from '../config';
import type {
  RedisArgument,
  RedisCommander,
  RedisCommandOptions,
} from './redis-commander';

type RedisConfig = ConfigType<typeof redisConfig>;
const logger = new Logger('Redis');

// Commands fail fast while Redis is down (no offline queue); the client reconnects in the background.
// A connection that stays open but stops answering is found two ways: the circuit breaker (commands
// time out) resets it, and, when idle, the PING every second goes unanswered so the socket falls
// silent and socketTimeout destroys it, rejecting what was queued. The queue itself is bounded.
const socket = {
  connectTimeout: 2000,
  socketTimeout: 3000,
  reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000),
};
/** Commands waiting on one connection; past it a command fails at once ("The queue is full"). */
export const REDIS_QUEUE_LIMIT = 2000;
/**
 * No node-redis command timeout (0: none). By default node-redis 6 gives every command a 5 s
 * `AbortSignal.timeout`: a timer that stays armed after the answer, until the signal is collected or
 * the 5 s pass, and an abort listener added and removed. In the app's profile under load that was
 * 6-7 µs a command. It bounds nothing the breaker does not. It covers only a command still waiting to
 * be written to the socket, where the queue is bounded (REDIS_QUEUE_LIMIT). Every caller goes through
 * the circuit breaker, which stops waiting at REDIS_COMMAND_TIMEOUT_MS, and a connection that stops
 * answering is dropped by socketTimeout, which rejects what it had queued.
 */
const NO_COMMAND_TIMEOUT = { timeout: 0 };
const clientDefaults = {
  // RESP2: the replies the storage and the scripts were written against (node-redis 6 defaults to 3).
  RESP: 2 as const,
  disableOfflineQueue: true,
  commandsQueueMaxLength: REDIS_QUEUE_LIMIT,
  pingInterval: 1000,
  commandOptions: NO_COMMAND_TIMEOUT,
  socket,
};

/** The process's one Redis connection, tagged by topology so that each is used through its own API. */
export type RedisConnection =
  | { mode: 'standalone'; client: ReturnType<typeof standalone> }
  | { mode: 'cluster'; client: ReturnType<typeof cluster> }
  | { mode: 'sentinel'; client: ReturnType<typeof sentinel> };

const standalone = (config: RedisConfig) =>
  createClient({ url: config.urls[0], ...clientDefaults });
const cluster = (config: RedisConfig) =>
  createCluster({
    rootNodes: config.urls.map((url) => ({ url })),
    defaults: clientDefaults,
  });
const sentinel = (config: RedisConfig) =>
  createSentinel(sentinelOptions(config));

/**
 * Sentinel options from REDIS_URL's sentinel URLs. node-redis takes sentinels as host and port, so
 * the URL's user, password and `rediss:` scheme are carried over by hand: they apply to the
 * sentinels and to the master and replicas they name (one ACL user and one TLS setting for the set).
 */
export function sentinelOptions(
  config: Pick<RedisConfig, 'urls' | 'sentinelMaster'>,
) {
  const first = new URL(config.urls[0]);
  const credentials = {
    ...(first.username && { username: decodeURIComponent(first.username) }),
    ...(first.password && { password: decodeURIComponent(first.password) }),
  };
  const tls = first.protocol === 'rediss:';
  return {
    name: config.sentinelMaster,
    // The sentinel client arms its own default timeout per command, like a node's.
    commandOptions: NO_COMMAND_TIMEOUT,
    sentinelRootNodes: config.urls.map((url) => {
      const parsed = new URL(url);
      return { host: parsed.hostname, port: Number(parsed.port || 26379) };
    }),
    nodeClientOptions: {
      ...clientDefaults,
      ...credentials,
      socket: { ...socket, ...(tls && { tls: true as const }) },
    },
    sentinelClientOptions: {
      ...credentials,
      socket: { ...socket, ...(tls && { tls: true as const }) },
    },
  };
}

/** Creates the connection (through node-redis's public factories) and starts connecting in the background. */
export function openRedisConnection(config: RedisConfig): RedisConnection {
  const connection: RedisConnection =
    config.mode === 'cluster'
      ? { mode: 'cluster', client: cluster(config) }
      : config.mode === 'sentinel'
        ? { mode: 'sentinel', client: sentinel(config) }
        : { mode: 'standalone', client: standalone(config) };
  let healthy = true;
  connection.client.on('error', (error: Error) => {
    // Our own destroy (a circuit reset, the shutdown) is no news from Redis.
    if (error instanceof DisconnectsClientError) return;
    if (healthy && !closing.has(connection))
      logger.warn(
        `Redis connection error (reconnecting in the background): ${error.message}`,
      );
    healthy = false;
  });
  connection.client.on('ready', () => {
    if (!healthy) logger.log('Redis connection restored');
    healthy = true;
  });
  connect(connection, 'Redis not reachable at start-up');
  return connection;
}

/** The key a command touches (for cluster slot routing): EVAL/EVALSHA name it after the script. */
export function commandKey(args: RedisArgument[]): RedisArgument | undefined {
  const name = args[0]?.toString().toUpperCase();
  return name === 'EVAL' || name === 'EVALSHA' ? args[3] : args[1];
}

/** node-redis's per-command type mapping for `returnBuffers`: bulk strings stay bytes. */
const BUFFER_REPLIES = {
  typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer },
} as const;

function commandOptions(options?: RedisCommandOptions) {
  return options?.returnBuffers ? BUFFER_REPLIES : undefined;
}

/** Raw commands on the connection, routed per topology. */
export function commanderFor(connection: RedisConnection): RedisCommander {
  switch (connection.mode) {
    case 'cluster': {
      const { client } = connection;
      return {
        sendCommand: (args, options) =>
          client.sendCommand(
            commandKey(args),
            false,
            args,
            commandOptions(options),
          ),
      };
    }
    case 'sentinel': {
      const { client } = connection;
      return {
        sendCommand: (args, options) =>
          client.sendCommand(false, args, commandOptions(options)),
      };
    }
    default: {
      const { client } = connection;
      return {
        sendCommand: (args, options) =>
          client.sendCommand(args, commandOptions(options)),
      };
    }
  }
}

/**
 * Drops a standalone connection that stopped answering (rejecting its queue) and opens a fresh one.
 * A cluster or sentinel client is left to follow its topology itself: node-redis refreshes the slot
 * map when a node keeps reconnecting (cluster) and follows +switch-master (sentinel), whereas
 * destroying it would start a new discovery whose client for a dead root node, or for a master the
 * sentinels have not replaced yet, retries forever (measured: the circuit never closed after a
 * failover).
 */
export function resetRedisConnection(connection: RedisConnection): void {
  if (connection.mode !== 'standalone' || !connection.client.isOpen) return;
  void connection.client.destroy();
  connect(connection, 'Redis reconnect failed (retrying)');
}

/** Waits for commands in flight, but never longer than `timeoutMs`; then drops the connection. */
export async function closeRedisConnection(
  connection: RedisConnection,
  timeoutMs: number,
): Promise<void> {
  closing.add(connection);
  if (!connection.client.isOpen) return;
  let timer: NodeJS.Timeout | undefined;
  const closed = connection.client.close().then(() => true);
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const done = await Promise.race([closed, late]).catch(() => false);
  clearTimeout(timer);
  if (!done && connection.client.isOpen) await connection.client.destroy();
}

/** True while commands can be sent (for the orders_redis_connected gauge). */
export function isRedisReady(connection: RedisConnection): boolean {
  return connection.mode === 'standalone'
    ? connection.client.isReady
    : connection.client.isOpen;
}

/** Connections being closed on purpose: their failures are the shutdown's doing, not news. */
const closing = new WeakSet<RedisConnection>();

function connect(connection: RedisConnection, failure: string): void {
  void (connection.client.connect() as Promise<unknown>).catch(
    (error: Error) => {
      if (
        !closing.has(connection) &&
        !(error instanceof DisconnectsClientError)
      )
        logger.warn(`${failure}: ${error.message}`);
    },
  );
}
