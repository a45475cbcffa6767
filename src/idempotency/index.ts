export { IdempotencyModule } from './idempotency.module';
export { IdempotencyInterceptor } from './idempotency.interceptor';
export { Idempotent } from './idempotent.decorator';
export {
  IdempotencyContext,
  IdempotencyRequest,
  readIdempotencyContext,
} from './idempotency-context';
export { insertOnce } from './insert-once';
export type { InsertOnceSteps } from './insert-once';
export { IDEMPOTENT_ROUTE, REPLAYED_HEADER } from './idempotency.constants';
export * from './idempotency.exceptions';
export * from './idempotency-options.interface';
export {
  canonicalJson,
  canonicalQuery,
  MAX_FINGERPRINT_DEPTH,
  requestFingerprint,
} from './fingerprint';
export {
  parseIdempotencyKey,
  unquoteStructuredString,
  DEFAULT_KEY_PATTERN,
} from './idempotency-key';
export * from './storage/idempotency-storage.interface';
export { InMemoryIdempotencyStorage } from './storage/in-memory.storage';
export { RedisIdempotencyStorage } from './storage/redis.storage';
export type {
  RedisArgument,
  RedisIdempotencyStorageOptions,
  RedisScriptClient,
} from './storage/redis.storage';
export {
  EntryCodec,
  JSON_FORMAT_VERSION,
  RESPONSE_FORMAT_VERSION,
  UnreadableEntryError,
} from './storage/entry-codec';
export type { EntryCodecOptions, SampleResponse } from './storage/entry-codec';
export { storageKeyFor, routeName, DEFAULT_KEY_PREFIX } from './storage-key';
export { FoldedWarning } from './folded-warning';
export { IDEMPOTENCY_CHANNELS } from './diagnostics';
export type {
  ClaimMessage,
  ConflictMessage,
  FallbackMessage,
  MismatchMessage,
  OutcomeMessage,
  ReplayMessage,
  StoreFailureMessage,
} from './diagnostics';
export { InMemoryStorageInProductionError } from './idempotency-startup-checks';
