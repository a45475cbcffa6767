import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule, ThrottlerStorage } from '@nestjs/throttler';
import { AuthModule } from '../auth/auth.module';
import { operationsConfig } from '../config';
import type { RedisScripting } from '../redis/redis-commander';
import { REDIS_COMMANDER } from '../redis/redis.module';
import { RedisThrottlerStorage } from './redis-throttler.storage';
import { UserThrottlerGuard } from './user-throttler.guard';

/** Rate limits on Redis. Import it before AuthModule: its guard runs first (see UserThrottlerGuard). */
@Module({
  imports: [
    AuthModule,
    ThrottlerModule.forRootAsync({
      inject: [operationsConfig.KEY, REDIS_COMMANDER],
      useFactory: (
        operations: ConfigType<typeof operationsConfig>,
        redis: RedisScripting,
      ) => ({
        throttlers: [
          { ttl: operations.throttleTtlMs, limit: operations.throttleLimit },
        ],
        storage: new RedisThrottlerStorage(redis, {
          syncMs: operations.throttleSyncMs,
        }),
      }),
    }),
  ],
  providers: [{ provide: APP_GUARD, useClass: UserThrottlerGuard }],
})
export class ThrottlingModule implements OnApplicationShutdown {
  constructor(
    @Inject(ThrottlerStorage) private readonly storage: RedisThrottlerStorage,
  ) {}

  onApplicationShutdown(): void {
    this.storage.stop();
  }
}
