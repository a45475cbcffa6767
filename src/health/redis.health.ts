import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
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
  ) {}

  async check(key: string) {
    const indicator = this.indicators.check(key);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), PING_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.redis.sendCommand(['PING']), timeout]);
      return indicator.up();
    } catch {
      return indicator.degraded({
        message: 'Redis unavailable: replays fall back to Postgres',
      });
    } finally {
      clearTimeout(timer);
    }
  }
}
