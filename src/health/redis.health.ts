import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { HealthIndicatorService } from '@nestjs/terminus';
import { appConfig } from '../config';
import type { RedisCommander } from '../redis/redis-commander';
import { REDIS_COMMANDER } from '../redis/redis.module';

/**
 * Reports Redis without failing readiness: Redis only accelerates replays, so an instance without it
 * still serves every request correctly ("degraded", not "down").
 */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    @Inject(REDIS_COMMANDER) private readonly redis: RedisCommander,
    private readonly indicators: HealthIndicatorService,
    @Inject(appConfig.KEY)
    private readonly app: ConfigType<typeof appConfig>,
  ) {}

  private last: { at: number; up: boolean } | undefined;

  /** Answered from the last ping for HEALTH_CACHE_MS, like the database check. */
  async check(key: string) {
    const indicator = this.indicators.check(key);
    if (!this.last || Date.now() - this.last.at >= this.app.healthCacheMs)
      this.last = { at: Date.now(), up: await this.ping() };
    return this.last.up
      ? indicator.up()
      : indicator.degraded({
          message: 'Redis unavailable: replays fall back to Postgres',
        });
  }

  /** Bounded by the Redis gateway (REDIS_COMMAND_TIMEOUT_MS); an open circuit answers at once. */
  private async ping(): Promise<boolean> {
    try {
      await this.redis.sendCommand(['PING']);
      return true;
    } catch {
      return false;
    }
  }
}
