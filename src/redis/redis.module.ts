import {
  Global,
  Inject,
  Logger,
  Module,
  OnApplicationShutdown,
} from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import KeyvRedis, { createClient } from '@keyv/redis';
import { idempotencyConfig } from '../config';

/** DI token of the shared `@keyv/redis` store; its `.client` (node-redis) carries the idempotency commands. */
export const REDIS_STORE = Symbol('REDIS_STORE');

const logger = new Logger('Redis');

/**
 * One Redis connection for the process. It never blocks start-up or a request: commands fail fast
 * while it is down (no offline queue) and it reconnects in the background.
 */
function connectRedis(
  config: ConfigType<typeof idempotencyConfig>,
): KeyvRedis<unknown> {
  const client = createClient({
    url: config.redisUrl,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2000,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000),
    },
  });
  let healthy = true;
  client.on('error', (error: Error) => {
    if (healthy)
      logger.warn(
        `Redis connection error (reconnecting in the background): ${error.message}`,
      );
    healthy = false;
  });
  client.on('ready', () => {
    if (!healthy) logger.log('Redis connection restored');
    healthy = true;
  });
  client
    .connect()
    .catch((error: Error) =>
      logger.warn(`Redis not reachable at start-up: ${error.message}`),
    );
  return new KeyvRedis(client);
}

@Global()
@Module({
  providers: [
    {
      provide: REDIS_STORE,
      inject: [idempotencyConfig.KEY],
      useFactory: connectRedis,
    },
  ],
  exports: [REDIS_STORE],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS_STORE) private readonly store: KeyvRedis<unknown>,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.store.disconnect(true).catch(() => undefined);
  }
}
