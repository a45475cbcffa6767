import {
  EntryCodec,
  type SampleResponse,
  UnreadableEntryError,
} from './entry-codec';
import type {
  CompletedEntry,
  IdempotencyEntry,
  IdempotencyStorage,
  InFlightEntry,
} from './idempotency-storage.interface';

/** An argument of a Redis command: text, or bytes (a compressed response). */
export type RedisArgument = string | Buffer;

/**
 * What the storage needs of a Redis client (structural: bring any client): raw commands, with
 * bulk-string replies as Buffers when asked (`returnBuffers`: a stored response is binary), and
 * single-key Lua scripts given by their source (run them by EVALSHA, falling back to EVAL on
 * NOSCRIPT, or simply by EVAL).
 *
 * @example
 * const client: RedisScriptClient = {
 *   sendCommand: (args, options) => nodeRedis.sendCommand(args, options?.returnBuffers
 *     ? { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } : undefined),
 *   runScript: (source, key, args) => nodeRedis.sendCommand(['EVAL', source, '1', key, ...args]),
 * };
 */
export interface RedisScriptClient {
  sendCommand(
    args: RedisArgument[],
    options?: { returnBuffers?: boolean },
  ): Promise<unknown>;
  runScript(
    source: string,
    key: string,
    args: RedisArgument[],
  ): Promise<unknown>;
}

export interface RedisIdempotencyStorageOptions {
  /**
   * A typical response of the routes (status, stored headers, body): the dictionary that stored
   * responses are compressed against (see EntryCodec). Changing it makes the entries stored before
   * unreadable (a miss that the application's constraint answers), so change it with a deploy.
   */
  sampleResponse?: SampleResponse;
  /** Compress stored responses (the default) or store them as JSON: see EntryCodecOptions. */
  compressResponses?: boolean;
  /**
   * AES-256-GCM keys (32 bytes): the first encrypts stored responses, bound to their storage key;
   * all decrypt. An entry whose key was dropped is treated as absent. See EntryCodecOptions.
   */
  encryptionKeys?: Uint8Array[];
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

/** Replace an entry with a lock only if it is still the bytes that were read (compare-and-set). */
const REPLACE_IF_UNCHANGED = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;

/** Delete the lock only if it still carries our token (compare-and-delete). */
const RELEASE_IF_OWNER = WHILE_OWNER + `return redis.call('DEL', KEYS[1])`;

/**
 * Redis storage. One Redis key per idempotency key holds either the lock or the response, so that
 * claiming is one `SET NX PX GET` round trip (the reply is the existing entry, ready to replay) and
 * completing replaces the lock atomically. Needs Redis >= 7.0 (`SET ... NX GET`). Entries are
 * versioned and responses compressed: see EntryCodec.
 *
 * @example new RedisIdempotencyStorage(redisScriptClient, { sampleResponse })
 */
export class RedisIdempotencyStorage implements IdempotencyStorage {
  private readonly codec: EntryCodec;

  constructor(
    private readonly redis: RedisScriptClient,
    options: RedisIdempotencyStorageOptions = {},
  ) {
    this.codec = new EntryCodec(options.sampleResponse, {
      compressResponses: options.compressResponses,
      encryptionKeys: options.encryptionKeys,
    });
  }

  async claim(
    key: string,
    lock: InFlightEntry,
    lockTtlMs: number,
  ): Promise<IdempotencyEntry | null> {
    const previous = await this.redis.sendCommand(
      [
        'SET',
        key,
        this.codec.encodeLock(lock),
        'NX',
        'PX',
        String(lockTtlMs),
        'GET',
      ],
      { returnBuffers: true },
    );
    if (previous === null || previous === undefined) return null;
    let entry: IdempotencyEntry;
    try {
      entry = this.codec.decode(previous as Buffer | string, key);
    } catch (error) {
      if (!(error instanceof UnreadableEntryError)) throw error;
      return this.claimOverUnreadable(key, previous as Buffer, lock, lockTtlMs);
    }
    return entry.state === 'in_flight'
      ? this.withLeaseExpiry(key, entry)
      : entry;
  }

  /**
   * An entry this build cannot read (a dropped encryption key, another key's entry, an unknown
   * format) is treated as absent: replaced by this claim, if it is still the same entry, so that the
   * request runs and the application's own constraint decides. Anything else in between: degrade.
   */
  private async claimOverUnreadable(
    key: string,
    unreadable: Buffer,
    lock: InFlightEntry,
    lockTtlMs: number,
  ): Promise<null> {
    const replaced = await this.redis.runScript(REPLACE_IF_UNCHANGED, key, [
      unreadable,
      this.codec.encodeLock(lock),
      String(lockTtlMs),
    ]);
    if (Number(replaced) !== 1)
      throw new UnreadableEntryError('changed while it was being replaced');
    return null;
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
      this.codec.encodeResponse(entry, key),
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
