/**
 * Raw commands on the process's one Redis connection, routed per topology (the key decides the node
 * in a cluster). node-redis's `sendCommand` fits; so does ioredis's `call`.
 */
export interface RedisCommander {
  sendCommand(args: string[]): Promise<unknown>;
}

/** Commands plus single-key Lua scripts, run by EVALSHA with an EVAL fallback (see LuaScript). */
export interface RedisScripting extends RedisCommander {
  runScript(source: string, key: string, args: string[]): Promise<unknown>;
}
