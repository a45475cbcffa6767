import type { IdempotencyContext } from './idempotency-context';
import { IdempotencyKeyReusedException } from './idempotency.exceptions';

/** What `insertOnce` needs from the application's own table. */
export interface InsertOnceSteps<T> {
  /** Inserts the row, storing the context's scope, key and fingerprint under a unique (scope, key) index. */
  insert(): Promise<T>;
  /** True when `error` is the unique violation of that index (a retry whose first attempt committed). */
  isDuplicateKey(error: unknown): boolean;
  /** Loads the row holding (scope, key), with the fingerprint it was created with. */
  loadExisting(): Promise<{ fingerprint: string; result: T } | undefined>;
}

/**
 * The database half of the promise, for any idempotent route: inserts once; a concurrent or late
 * retry that hits the unique index resolves to the original row (marked as a replay, so the
 * interceptor answers with `Idempotent-Replayed: true`), and a different request under the same key
 * is refused with 422. It holds with storage down, so no path can create a second row for one key.
 *
 * @example
 * return insertOnce(idempotency, {
 *   insert: () => repo.insert({ ...dto, scope: idempotency.scope, key: idempotency.key, fingerprint: idempotency.fingerprint }),
 *   isDuplicateKey: (e) => e.code === '23505' && e.constraint === 'payments_scope_key_uq',
 *   loadExisting: () => repo.findByKey(idempotency.scope, idempotency.key),
 * });
 */
export async function insertOnce<T>(
  idempotency: IdempotencyContext,
  steps: InsertOnceSteps<T>,
): Promise<T> {
  try {
    return await steps.insert();
  } catch (error) {
    if (!steps.isDuplicateKey(error)) throw error;
  }
  const existing = await steps.loadExisting();
  if (!existing)
    throw new Error(
      'unique violation on the idempotency key, but no row holds the key',
    );
  if (existing.fingerprint !== idempotency.fingerprint)
    throw new IdempotencyKeyReusedException(idempotency.headerName);
  idempotency.markReplayed();
  return existing.result;
}
