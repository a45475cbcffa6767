/** Means "storage too slow", not "storage said no". */
export class StorageTimeoutError extends Error {}

/**
 * Bounds one storage call: past `timeoutMs` the caller goes on without the answer.
 *
 * @example const existing = await withTimeout(storage.claim(key, lock, ttl), 250);
 */
export function withTimeout<T>(
  operation: Promise<T>,
  timeoutMs: number,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new StorageTimeoutError(`storage did not answer in ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
  });
  return Promise.race([operation, timeout]).finally(() => clearTimeout(timer));
}
