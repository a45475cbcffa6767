/** Means "Redis too slow", not "Redis said no". */
export class RedisTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`Redis did not answer in ${timeoutMs} ms`);
    this.name = 'RedisTimeoutError';
  }
}

/** Bounds one Redis call: past `timeoutMs` the caller goes on without the answer. */
export function withRedisTimeout<T>(
  operation: Promise<T>,
  timeoutMs: number,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RedisTimeoutError(timeoutMs)),
      timeoutMs,
    );
  });
  return Promise.race([operation, timeout]).finally(() => clearTimeout(timer));
}
