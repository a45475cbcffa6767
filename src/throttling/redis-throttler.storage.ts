import { Logger } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { RedisScripting } from '../redis/redis-commander';

type ThrottlerStorageRecord = Awaited<
  ReturnType<ThrottlerStorage['increment']>
>;

/** Add this instance's hits to the window's shared count (starting the window if new); answer total and time left. */
const ADD_HITS = `local hits = redis.call('INCRBY', KEYS[1], ARGV[1])
if hits == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {hits, redis.call('PTTL', KEYS[1])}`;

/** Keys counted at once; each window is about 100 bytes, so the map stays under ~10 MiB. */
export const MAX_WINDOWS = 100_000;

interface Window {
  /** Hits of every instance, as Redis last reported them (including ours sent so far). */
  shared: number;
  /** Our hits not yet sent to Redis. */
  pending: number;
  /** Our hits on their way to Redis (a sync awaiting its reply): still counted until Redis has them. */
  sending: number;
  ttlMs: number;
  expiresAt: number;
}

/**
 * @nestjs/throttler's storage with one budget per key shared by every instance through Redis, without
 * a Redis round trip per request: each instance counts locally and adds its hits to Redis every
 * `syncMs` (one pipelined script call per active key), learning the others' hits in the same reply.
 * A key can therefore overshoot its limit by what other instances admitted within one sync interval.
 * When Redis cannot coordinate (down, slow, or refusing writes because it is full), each instance
 * keeps enforcing the limit on its own count (so a user gets at most limit x instances, never
 * unlimited), and a warning is logged at most every 10 s.
 *
 * @example new RedisThrottlerStorage(redisGateway, { syncMs: 50 })
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly logger = new Logger('Throttler');
  private readonly windows = new Map<string, Window>();
  private readonly timer: NodeJS.Timeout;
  private redisAnswering = true;
  private lastWarning = 0;
  /** Sends under way (the timer's, or another caller's), each settled within the Redis command timeout: sync() waits for them too. */
  private readonly sending = new Set<Promise<void>>();

  constructor(
    private readonly redis: RedisScripting,
    private readonly options: { syncMs: number },
  ) {
    this.timer = setInterval(() => void this.sync(), options.syncMs);
    this.timer.unref();
  }

  increment(
    key: string,
    ttl: number,
    limit: number,
  ): Promise<ThrottlerStorageRecord> {
    const now = Date.now();
    let window = this.windows.get(key);
    if (!window || window.expiresAt <= now) {
      window = {
        shared: 0,
        pending: 0,
        sending: 0,
        ttlMs: ttl,
        expiresAt: now + ttl,
      };
      this.windows.delete(key);
      // Bounded: past MAX_WINDOWS keys (e.g. a flood from many addresses) the oldest window goes.
      if (this.windows.size >= MAX_WINDOWS)
        this.windows.delete(this.windows.keys().next().value!);
      this.windows.set(key, window);
    }
    window.pending++;
    const totalHits = window.shared + window.sending + window.pending;
    const seconds = Math.max(1, Math.ceil((window.expiresAt - now) / 1000));
    // Enforced on what this instance knows even while Redis cannot coordinate (down, full, slow):
    // then each instance holds a user to its own count, never to nothing.
    const isBlocked = totalHits > limit;
    return Promise.resolve({
      totalHits,
      timeToExpire: seconds,
      isBlocked,
      timeToBlockExpire: isBlocked ? seconds : 0,
    });
  }

  /**
   * Sends every window's pending hits and reads back the shared counts; the timer calls it. Resolves
   * once every send under way has answered, the timer's included: a caller that syncs then reads a
   * count sees every hit made before.
   */
  async sync(): Promise<void> {
    const now = Date.now();
    const sends = [...this.sending];
    for (const [key, window] of this.windows) {
      if (window.expiresAt <= now) this.windows.delete(key);
      else if (window.pending > 0) {
        const send = this.send(key, window).finally(() =>
          this.sending.delete(send),
        );
        this.sending.add(send);
        sends.push(send);
      }
    }
    await Promise.all(sends);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async send(key: string, window: Window): Promise<void> {
    const sent = window.pending;
    window.pending = 0;
    window.sending += sent;
    try {
      // Bounded by the Redis gateway (REDIS_COMMAND_TIMEOUT_MS, circuit breaker).
      const [shared, pttl] = (await this.redis.runScript(
        ADD_HITS,
        `throttle:${key}`,
        [String(sent), String(window.ttlMs)],
      )) as [number, number];
      window.sending -= sent;
      window.shared = Number(shared);
      // A key without a TTL (-1) or gone (-2) leaves our own window end as it was.
      if (Number(pttl) >= 0) window.expiresAt = Date.now() + Number(pttl);
      this.redisAnswering = true;
    } catch (error) {
      window.sending -= sent;
      window.pending += sent; // counted again at the next sync
      this.redisAnswering = false;
      this.warnOpen(error);
    }
  }

  private warnOpen(error: unknown): void {
    if (Date.now() - this.lastWarning < 10000) return;
    this.lastWarning = Date.now();
    this.logger.warn(
      `rate limiter counting per instance (Redis cannot coordinate): ${String(error)}`,
    );
  }
}
