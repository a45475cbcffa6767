import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { redisConfig } from '../config';
import { RedisCircuitBreaker } from './redis-circuit-breaker';
import {
  closeRedisConnection,
  commanderFor,
  openRedisConnection,
  resetRedisConnection,
} from './redis-connection';
import type { RedisConnection } from './redis-connection';

/** DI token of the process's one Redis connection (a tagged node-redis client, cluster or sentinel). */
export const REDIS_CONNECTION = Symbol('REDIS_CONNECTION');
/**
 * DI token of the Redis gateway (RedisScripting): commands and scripts on that connection, bounded by
 * REDIS_COMMAND_TIMEOUT_MS behind the circuit breaker. Everything in the app talks to Redis through it.
 */
export const REDIS_COMMANDER = Symbol('REDIS_COMMANDER');

/** One Redis connection for the process. It never blocks start-up or a request. */
@Global()
@Module({
  providers: [
    {
      provide: REDIS_CONNECTION,
      inject: [redisConfig.KEY],
      useFactory: openRedisConnection,
    },
    {
      provide: REDIS_COMMANDER,
      inject: [REDIS_CONNECTION, redisConfig.KEY],
      useFactory: (
        connection: RedisConnection,
        config: ConfigType<typeof redisConfig>,
      ) =>
        new RedisCircuitBreaker(commanderFor(connection), {
          timeoutMs: config.commandTimeoutMs,
          failureThreshold: config.circuitThreshold,
          cooldownMs: config.circuitCooldownMs,
          resetConnection: () => resetRedisConnection(connection),
        }),
    },
  ],
  exports: [REDIS_CONNECTION, REDIS_COMMANDER],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS_CONNECTION) private readonly connection: RedisConnection,
    @Inject(REDIS_COMMANDER) private readonly breaker: RedisCircuitBreaker,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    this.breaker.stop();
    await closeRedisConnection(this.connection, 2000);
  }
}
