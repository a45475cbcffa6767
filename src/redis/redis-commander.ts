/**
 * Raw commands on the process's one Redis connection, routed per topology (the key decides the node
 * in a cluster). node-redis's `sendCommand` fits; so does ioredis's `call`.
 */
export interface RedisCommander {
  sendCommand(
    args: RedisArgument[],
    options?: RedisCommandOptions,
  ): Promise<unknown>;
}

/** Text, or bytes (the idempotency library's compressed responses). */
export type RedisArgument = string | Buffer;

export interface RedisCommandOptions {
  /** Bulk-string replies as Buffers instead of UTF-8 strings (binary values). */
  returnBuffers?: boolean;
}

/** Commands plus single-key Lua scripts, run by EVALSHA with an EVAL fallback (see LuaScript). */
export interface RedisScripting extends RedisCommander {
  runScript(
    source: string,
    key: string,
    args: RedisArgument[],
  ): Promise<unknown>;
}
