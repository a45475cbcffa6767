import {
  CompletedEntry,
  IdempotencyEntry,
  IdempotencyStorage,
  InFlightEntry,
} from './idempotency-storage.interface';
import { LuaScript } from './lua-script';

/**
 * The one command a Redis client must offer: send raw arguments, get the reply. node-redis
 * (`client.sendCommand`, as exposed by `@keyv/redis`'s `.client`) and ioredis (`call`) both fit.
 */
export interface RedisCommander {
  sendCommand(args: string[]): Promise<unknown>;
}

/** Lua prelude: go on only while KEYS[1] is an in-flight lock carrying our token (ARGV[1]). */
const WHILE_OWNER = `local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, entry = pcall(cjson.decode, current)
if not ok or entry.state ~= 'in_flight' or entry.token ~= ARGV[1] then return 0 end
`;

/** Replace the lock by the response only if the lock still carries our token (compare-and-set). */
const COMPLETE_IF_OWNER = new LuaScript(
  WHILE_OWNER +
    `redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`,
);

/** Extend the lock only if it still carries our token (a live owner keeps its claim). */
const RENEW_IF_OWNER = new LuaScript(
  WHILE_OWNER + `return redis.call('PEXPIRE', KEYS[1], ARGV[2])`,
);

/** Delete the lock only if it still carries our token (compare-and-delete). */
const RELEASE_IF_OWNER = new LuaScript(
  WHILE_OWNER + `return redis.call('DEL', KEYS[1])`,
);

/**
 * Redis storage. One Redis key per idempotency key holds either the lock or the response, so that
 * claiming is one `SET NX PX GET` round trip (the reply is the existing entry, ready to replay) and
 * completing replaces the lock atomically. Needs Redis >= 7.0 (`SET ... NX GET`).
 *
 * @example new RedisIdempotencyStorage(keyvRedis.client)
 */
export class RedisIdempotencyStorage implements IdempotencyStorage {
  constructor(private readonly redis: RedisCommander) {}

  async claim(
    key: string,
    lock: InFlightEntry,
    lockTtlMs: number,
  ): Promise<IdempotencyEntry | null> {
    const previous = await this.redis.sendCommand([
      'SET',
      key,
      JSON.stringify(lock),
      'NX',
      'PX',
      String(lockTtlMs),
      'GET',
    ]);
    return previous === null || previous === undefined
      ? null
      : (JSON.parse(
          typeof previous === 'string'
            ? previous
            : (previous as Buffer).toString(),
        ) as IdempotencyEntry);
  }

  async complete(
    key: string,
    token: string,
    entry: CompletedEntry,
    ttlMs: number,
  ): Promise<boolean> {
    const reply = await COMPLETE_IF_OWNER.run(
      this.redis,
      key,
      token,
      JSON.stringify(entry),
      String(ttlMs),
    );
    return Number(reply) === 1;
  }

  async renew(key: string, token: string, ttlMs: number): Promise<boolean> {
    const reply = await RENEW_IF_OWNER.run(
      this.redis,
      key,
      token,
      String(ttlMs),
    );
    return Number(reply) === 1;
  }

  async release(key: string, token: string): Promise<boolean> {
    const reply = await RELEASE_IF_OWNER.run(this.redis, key, token);
    return Number(reply) === 1;
  }
}
