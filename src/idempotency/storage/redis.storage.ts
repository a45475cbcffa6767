import {
  CompletedEntry,
  IdempotencyEntry,
  IdempotencyStorage,
  InFlightEntry,
} from './idempotency-storage.interface';

/**
 * What the storage needs of a Redis client (structural: bring any client): raw commands, and
 * single-key Lua scripts given by their source (run them by EVALSHA, falling back to EVAL on
 * NOSCRIPT, or simply by EVAL).
 *
 * @example
 * const client: RedisScriptClient = {
 *   sendCommand: (args) => nodeRedis.sendCommand(args),
 *   runScript: (source, key, args) => nodeRedis.sendCommand(['EVAL', source, '1', key, ...args]),
 * };
 */
export interface RedisScriptClient {
  sendCommand(args: string[]): Promise<unknown>;
  runScript(source: string, key: string, args: string[]): Promise<unknown>;
}

/**
 * The format of every entry this storage writes. A rolling deploy runs two builds against one Redis:
 * an entry of another version is unreadable to this one, and a claim that meets it fails with
 * UnreadableEntryError, so the caller goes on without storage (the application's own constraint
 * decides) instead of misreading it.
 */
export const ENTRY_FORMAT_VERSION = 1;

export class UnreadableEntryError extends Error {
  constructor(detail: string) {
    super(`stored idempotency entry is unreadable: ${detail}`);
    this.name = 'UnreadableEntryError';
  }
}

function serialize(entry: IdempotencyEntry): string {
  return JSON.stringify({ v: ENTRY_FORMAT_VERSION, ...entry });
}

function parseEntry(text: string): IdempotencyEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UnreadableEntryError('not JSON');
  }
  const { v, ...entry } = (parsed ?? {}) as { v?: unknown };
  if (v !== ENTRY_FORMAT_VERSION)
    throw new UnreadableEntryError(`format version ${String(v)}`);
  return entry as IdempotencyEntry;
}

/** Lua prelude: go on only while KEYS[1] is an in-flight lock carrying our token (ARGV[1]). */
const WHILE_OWNER = `local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, entry = pcall(cjson.decode, current)
if not ok or entry.state ~= 'in_flight' or entry.token ~= ARGV[1] then return 0 end
`;

/** Replace the lock by the response only if the lock still carries our token (compare-and-set). */
const COMPLETE_IF_OWNER =
  WHILE_OWNER +
  `redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

/** Extend the lock only if it still carries our token (a live owner keeps its claim). */
const RENEW_IF_OWNER =
  WHILE_OWNER + `return redis.call('PEXPIRE', KEYS[1], ARGV[2])`;

/** Delete the lock only if it still carries our token (compare-and-delete). */
const RELEASE_IF_OWNER = WHILE_OWNER + `return redis.call('DEL', KEYS[1])`;

/**
 * Redis storage. One Redis key per idempotency key holds either the lock or the response, so that
 * claiming is one `SET NX PX GET` round trip (the reply is the existing entry, ready to replay) and
 * completing replaces the lock atomically. Needs Redis >= 7.0 (`SET ... NX GET`).
 *
 * @example new RedisIdempotencyStorage(redisScriptClient)
 */
export class RedisIdempotencyStorage implements IdempotencyStorage {
  constructor(private readonly redis: RedisScriptClient) {}

  async claim(
    key: string,
    lock: InFlightEntry,
    lockTtlMs: number,
  ): Promise<IdempotencyEntry | null> {
    const previous = await this.redis.sendCommand([
      'SET',
      key,
      serialize(lock),
      'NX',
      'PX',
      String(lockTtlMs),
      'GET',
    ]);
    if (previous === null || previous === undefined) return null;
    const entry = parseEntry(
      typeof previous === 'string' ? previous : (previous as Buffer).toString(),
    );
    return entry.state === 'in_flight'
      ? this.withLeaseExpiry(key, entry)
      : entry;
  }

  /** A second round trip, on the 409 path only: how long the owner's lease has left. */
  private async withLeaseExpiry(
    key: string,
    entry: InFlightEntry,
  ): Promise<InFlightEntry> {
    const remainingMs = Number(await this.redis.sendCommand(['PTTL', key]));
    return remainingMs > 0
      ? { ...entry, leaseExpiresAt: Date.now() + remainingMs }
      : entry;
  }

  async complete(
    key: string,
    token: string,
    entry: CompletedEntry,
    ttlMs: number,
  ): Promise<boolean> {
    const reply = await this.redis.runScript(COMPLETE_IF_OWNER, key, [
      token,
      serialize(entry),
      String(ttlMs),
    ]);
    return Number(reply) === 1;
  }

  async renew(key: string, token: string, ttlMs: number): Promise<boolean> {
    const reply = await this.redis.runScript(RENEW_IF_OWNER, key, [
      token,
      String(ttlMs),
    ]);
    return Number(reply) === 1;
  }

  async release(key: string, token: string): Promise<boolean> {
    const reply = await this.redis.runScript(RELEASE_IF_OWNER, key, [token]);
    return Number(reply) === 1;
  }
}
