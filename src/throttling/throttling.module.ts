import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule, ThrottlerStorage } from '@nestjs/throttler';
import { AuthModule } from '../auth/auth.module';
import { throttleConfig } from '../config';
import type { RedisScripting } from '../redis/redis-commander';
import { REDIS_COMMANDER } from '../redis/redis.module';
import { RedisThrottlerStorage } from './redis-throttler.storage';
import { skipUnless } from './throttle-by-address.decorator';
import {
  RATE_LIMITED_MESSAGE,
  UserThrottlerGuard,
} from './user-throttler.guard';
import { UnmatchedRouteLimiter } from './unmatched-route.limiter';

/** Rate limits on Redis. Import it before AuthModule: its guard runs first (see UserThrottlerGuard). */
@Module({
  imports: [
    AuthModule,
    ThrottlerModule.forRootAsync({
      inject: [throttleConfig.KEY, REDIS_COMMANDER],
      useFactory: (
        throttle: ConfigType<typeof throttleConfig>,
        redis: RedisScripting,
      ) => ({
        throttlers: [
          { name: 'default', ttl: throttle.ttlMs, limit: throttle.limit },
          {
            name: 'webhook',
            ttl: throttle.ttlMs,
            limit: throttle.webhookLimit,
            skipIf: skipUnless('webhook'),
          },
          {
            name: 'health',
            ttl: throttle.ttlMs,
            limit: throttle.healthLimit,
            skipIf: skipUnless('health'),
          },
        ],
        errorMessage: RATE_LIMITED_MESSAGE,
        storage: new RedisThrottlerStorage(redis, {
          syncMs: throttle.syncMs,
        }),
      }),
    }),
  ],
  providers: [
    { provide: APP_GUARD, useClass: UserThrottlerGuard },
    UnmatchedRouteLimiter,
  ],
  exports: [UnmatchedRouteLimiter],
})
export class ThrottlingModule implements OnApplicationShutdown {
  constructor(
    @Inject(ThrottlerStorage) private readonly storage: RedisThrottlerStorage,
  ) {}

  onApplicationShutdown(): void {
    this.storage.stop();
  }
}
