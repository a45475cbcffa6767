import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { HealthIndicatorService } from '@nestjs/terminus';
import { appConfig } from '../config';
import type { RedisCommander } from '../idempotency';
import { REDIS_COMMANDER } from '../redis/redis.module';

const PING_TIMEOUT_MS = 300;

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

  private async ping(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), PING_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.redis.sendCommand(['PING']), timeout]);
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
