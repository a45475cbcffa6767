import { Logger } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { createHash } from 'node:crypto';
import { withTimeout } from '../idempotency';
import type { RedisCommander } from '../idempotency';

/** A fixed window per key: count the hit, start the window on the first, report what is left of it. */
const HIT = `local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {hits, redis.call('PTTL', KEYS[1])}`;
const HIT_SHA1 = createHash('sha1').update(HIT).digest('hex');

type ThrottlerStorageRecord = Awaited<
  ReturnType<ThrottlerStorage['increment']>
>;

const ALLOW: ThrottlerStorageRecord = {
  totalHits: 0,
  timeToExpire: 0,
  isBlocked: false,
  timeToBlockExpire: 0,
};

/**
 * @nestjs/throttler's storage on the shared Redis connection, so every instance counts against one
 * budget. It fails open: if Redis is down or slower than `timeoutMs`, the request is allowed (orders
 * keep flowing) and a warning is logged at most every 10 s.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly logger = new Logger('Throttler');
  private lastWarning = 0;

  constructor(
    private readonly redis: RedisCommander,
    private readonly timeoutMs: number,
  ) {}

  async increment(
    key: string,
    ttl: number,
    limit: number,
  ): Promise<ThrottlerStorageRecord> {
    try {
      const [hits, pttl] = (await withTimeout(
        this.hit(`throttle:${key}`, ttl),
        this.timeoutMs,
      )) as [number, number];
      const seconds = Math.max(1, Math.ceil(Number(pttl) / 1000));
      const isBlocked = Number(hits) > limit;
      return {
        totalHits: Number(hits),
        timeToExpire: seconds,
        isBlocked,
        timeToBlockExpire: isBlocked ? seconds : 0,
      };
    } catch (error) {
      this.warnOpen(error);
      return ALLOW;
    }
  }

  private async hit(key: string, ttl: number): Promise<unknown> {
    const args = ['1', key, String(ttl)];
    try {
      return await this.redis.sendCommand(['EVALSHA', HIT_SHA1, ...args]);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT'))
        throw error;
      return this.redis.sendCommand(['EVAL', HIT, ...args]);
    }
  }

  private warnOpen(error: unknown): void {
    if (Date.now() - this.lastWarning < 10000) return;
    this.lastWarning = Date.now();
    this.logger.warn(
      `rate limiter failing open (Redis unavailable): ${String(error)}`,
    );
  }
}
