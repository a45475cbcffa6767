import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import KeyvRedis from '@keyv/redis';
import { REDIS_STORE } from '../redis/redis.module';

const PING_TIMEOUT_MS = 300;

/**
 * Reports Redis without failing readiness: Redis only accelerates replays, so an instance without it
 * still serves every request correctly ("degraded", not "down").
 */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    @Inject(REDIS_STORE) private readonly store: KeyvRedis<unknown>,
    private readonly indicators: HealthIndicatorService,
  ) {}

  async check(key: string) {
    const indicator = this.indicators.check(key);
    const client = this.store.client as unknown as {
      sendCommand(args: string[]): Promise<unknown>;
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), PING_TIMEOUT_MS);
    });
    try {
      await Promise.race([client.sendCommand(['PING']), timeout]);
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
