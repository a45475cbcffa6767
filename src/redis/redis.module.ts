import {
  Global,
  Inject,
  Logger,
  Module,
  OnApplicationShutdown,
} from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import KeyvRedis, {
  createClient,
  createCluster,
  createSentinel,
} from '@keyv/redis';
import { redisConfig } from '../config';
import type { RedisCommander } from './redis-commander';
import { RedisCircuitBreaker } from './redis-circuit-breaker';

/** DI token of the shared `@keyv/redis` store: it owns the one Redis connection of the process. */
export const REDIS_STORE = Symbol('REDIS_STORE');
/** DI token of raw commands on that connection (idempotency storage, health), routed per topology. */
export const REDIS_COMMANDER = Symbol('REDIS_COMMANDER');

const logger = new Logger('Redis');
type RedisConfig = ConfigType<typeof redisConfig>;

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
const clientDefaults = {
  disableOfflineQueue: true,
  commandsQueueMaxLength: REDIS_QUEUE_LIMIT,
  pingInterval: 1000,
  socket,
};

function createConnection(config: RedisConfig) {
  const [url] = config.urls;
  switch (config.mode) {
    case 'cluster':
      return createCluster({
        rootNodes: config.urls.map((rootUrl) => ({ url: rootUrl })),
        defaults: clientDefaults,
      });
    case 'sentinel':
      return createSentinel({
        name: config.sentinelMaster,
        sentinelRootNodes: config.urls.map((sentinelUrl) => {
          const parsed = new URL(sentinelUrl);
          return { host: parsed.hostname, port: Number(parsed.port || 26379) };
        }),
        nodeClientOptions: clientDefaults,
        sentinelClientOptions: { socket },
      });
    default:
      return createClient({ url, ...clientDefaults });
  }
}

type Connection = ReturnType<typeof createConnection>;

/** The key a command touches (for cluster slot routing): EVAL/EVALSHA name it after the script. */
export function commandKey(args: string[]): string | undefined {
  const name = args[0]?.toUpperCase();
  return name === 'EVAL' || name === 'EVALSHA' ? args[3] : args[1];
}

function commanderFor(
  connection: Connection,
  mode: RedisConfig['mode'],
): RedisCommander {
  if (mode === 'cluster') {
    const cluster = connection as unknown as ReturnType<typeof createCluster>;
    return {
      sendCommand: (args) => cluster.sendCommand(commandKey(args), false, args),
    };
  }
  if (mode === 'sentinel') {
    const sentinel = connection as unknown as ReturnType<typeof createSentinel>;
    return { sendCommand: (args) => sentinel.sendCommand(false, args) };
  }
  const client = connection as unknown as ReturnType<typeof createClient>;
  return { sendCommand: (args) => client.sendCommand(args) };
}

/** Drops a connection that stopped answering (rejecting its queue) and opens a fresh one. */
function resetConnection(connection: Connection): void {
  if (!connection.isOpen) return;
  void connection.destroy();
  connection
    .connect()
    .catch((error: Error) =>
      logger.warn(`Redis reconnect failed (retrying): ${error.message}`),
    );
}

/** One Redis connection for the process. It never blocks start-up or a request. */
function connectRedis(config: RedisConfig): KeyvRedis<unknown> {
  const connection = createConnection(config);
  let healthy = true;
  connection.on('error', (error: Error) => {
    if (healthy)
      logger.warn(
        `Redis connection error (reconnecting in the background): ${error.message}`,
      );
    healthy = false;
  });
  connection.on('ready', () => {
    if (!healthy) logger.log('Redis connection restored');
    healthy = true;
  });
  connection
    .connect()
    .catch((error: Error) =>
      logger.warn(`Redis not reachable at start-up: ${error.message}`),
    );
  return new KeyvRedis(connection);
}

@Global()
@Module({
  providers: [
    {
      provide: REDIS_STORE,
      inject: [redisConfig.KEY],
      useFactory: connectRedis,
    },
    {
      provide: REDIS_COMMANDER,
      inject: [REDIS_STORE, redisConfig.KEY],
      useFactory: (store: KeyvRedis<unknown>, config: RedisConfig) =>
        new RedisCircuitBreaker(
          commanderFor(store.client as Connection, config.mode),
          {
            timeoutMs: config.commandTimeoutMs,
            failureThreshold: config.circuitThreshold,
            cooldownMs: config.circuitCooldownMs,
            resetConnection: () => resetConnection(store.client as Connection),
          },
        ),
    },
  ],
  exports: [REDIS_STORE, REDIS_COMMANDER],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS_STORE) private readonly store: KeyvRedis<unknown>,
    @Inject(REDIS_COMMANDER) private readonly breaker: RedisCircuitBreaker,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    this.breaker.stop();
    await this.store.disconnect(true).catch(() => undefined);
  }
}
