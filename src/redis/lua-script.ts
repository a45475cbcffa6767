import { createHash } from 'node:crypto';
import type { RedisArgument, RedisCommander } from './redis-commander';

/**
 * A single-key Lua script run by EVALSHA (the body travels once per server), falling back to EVAL
 * when the server answers NOSCRIPT (restarted or flushed scripts).
 *
 * @example await new LuaScript("return redis.call('GET', KEYS[1])").run(redis, 'k')
 */
export class LuaScript {
  private readonly sha1: string;

  constructor(private readonly source: string) {
    this.sha1 = createHash('sha1').update(source).digest('hex');
  }

  async run(
    redis: RedisCommander,
    key: string,
    ...args: RedisArgument[]
  ): Promise<unknown> {
    try {
      return await redis.sendCommand(['EVALSHA', this.sha1, '1', key, ...args]);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT'))
        throw error;
      return redis.sendCommand(['EVAL', this.source, '1', key, ...args]);
    }
  }
}
