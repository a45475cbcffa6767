import { Logger } from '@nestjs/common';
import { LuaScript } from './lua-script';
import type {
  RedisArgument,
  RedisCommander,
  RedisCommandOptions,
  RedisScripting,
} from './redis-commander';
import { withRedisTimeout } from './redis-timeout';

/** Thrown instead of calling Redis while the breaker is open: the caller degrades at once. */
export class RedisCircuitOpenError extends Error {
  constructor() {
    super('Redis circuit open: skipping Redis until a probe succeeds');
    this.name = 'RedisCircuitOpenError';
  }
}

export interface RedisCircuitBreakerOptions {
  /** Upper bound of one command (REDIS_COMMAND_TIMEOUT_MS). */
  timeoutMs: number;
  /** Consecutive timeouts or connection failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before a background probe (PING) may close it. */
  cooldownMs: number;
  /**
   * Drops the connection and opens a new one, rejecting every command still queued on it: a
   * connection that stopped answering would otherwise hold its queue (and each caller's memory).
   */
  resetConnection: () => void;
}

/**
 * The one gateway to Redis. Every command is bounded by `timeoutMs`; after `failureThreshold`
 * consecutive timeouts or connection failures the circuit opens: commands fail at once with
 * RedisCircuitOpenError (the app's fallbacks take over: Postgres decides idempotency, each instance
 * rate-limits on its own count), the stalled connection is reset, and a background PING every
 * `cooldownMs` closes the circuit again once Redis answers. Opening and closing are logged once each.
 * Error replies (OOM, NOSCRIPT, WRONGTYPE...) are answers, not failures: they never open it.
 *
 * @example new RedisCircuitBreaker(commander, { timeoutMs: 250, failureThreshold: 3, cooldownMs: 1000, resetConnection })
 */
export class RedisCircuitBreaker implements RedisScripting {
  private readonly logger = new Logger('Redis');
  private failures = 0;
  private openSince: number | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** One per script source in the code: a handful, never client-grown. */
  private readonly scripts = new Map<string, LuaScript>();

  constructor(
    private readonly redis: RedisCommander,
    private readonly options: RedisCircuitBreakerOptions,
  ) {}

  get isOpen(): boolean {
    return this.openSince !== undefined;
  }

  async sendCommand(
    args: RedisArgument[],
    options?: RedisCommandOptions,
  ): Promise<unknown> {
    if (this.isOpen) throw new RedisCircuitOpenError();
    try {
      const reply = await withRedisTimeout(
        this.redis.sendCommand(args, options),
        this.options.timeoutMs,
      );
      this.failures = 0;
      return reply;
    } catch (error) {
      if (!isErrorReply(error)) this.recordFailure(error);
      throw error;
    }
  }

  /** Runs a single-key script through this breaker (EVALSHA, EVAL on NOSCRIPT). */
  runScript(
    source: string,
    key: string,
    args: RedisArgument[],
  ): Promise<unknown> {
    let script = this.scripts.get(source);
    if (!script) this.scripts.set(source, (script = new LuaScript(source)));
    return script.run(this, key, ...args);
  }

  /** Stops probing (application shutdown). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.probeTimer);
  }

  private recordFailure(error: unknown): void {
    this.failures++;
    if (this.isOpen || this.failures < this.options.failureThreshold) return;
    this.openSince = Date.now();
    this.logger.warn(
      `circuit open after ${this.failures} failed calls (last: ${String(error)}); ` +
        `serving without Redis, probing every ${this.options.cooldownMs} ms`,
    );
    this.options.resetConnection();
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.stopped) return;
    this.probeTimer = setTimeout(
      () => void this.probe(),
      this.options.cooldownMs,
    );
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    try {
      await withRedisTimeout(
        this.redis.sendCommand(['PING']),
        this.options.timeoutMs,
      );
    } catch {
      this.scheduleProbe();
      return;
    }
    this.logger.log(
      `circuit closed: Redis answers again after ${Date.now() - this.openSince!} ms`,
    );
    this.openSince = undefined;
    this.failures = 0;
  }
}

/** A reply Redis sent (node-redis's ErrorReply and its subclasses), as opposed to no reply at all. */
function isErrorReply(error: unknown): boolean {
  for (
    let prototype: unknown = error && Object.getPrototypeOf(error);
    prototype;
    prototype = Object.getPrototypeOf(prototype)
  ) {
    if (
      (prototype as { constructor?: { name?: string } }).constructor?.name ===
      'ErrorReply'
    )
      return true;
  }
  return false;
}
