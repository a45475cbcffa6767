/**
 * The idempotency library's test kit, for authors of a storage: import it from a Jest spec only
 * (it uses Jest's globals). Not part of `src/idempotency/index.ts`, so the runtime never loads it.
 */
export { describeIdempotencyStorageContract } from './storage-contract';
export type { StorageUnderTest } from './storage-contract';
