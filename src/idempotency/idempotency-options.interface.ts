import { IdempotencyStorage } from './storage/idempotency-storage.interface';

/**
 * What happened to an idempotent request, reported once through `onOutcome` (for metrics and logs).
 * `degraded` is reported besides the final outcome when storage failed or timed out.
 */
export type IdempotencyOutcome =
  | 'created' // the handler ran and succeeded
  | 'replayed' // a stored response was sent again
  | 'resolved' // the handler found the request's original result and returned it (a replay)
  | 'conflict_in_flight' // 409: the same request is still running
  | 'key_reused' // 422: the key belongs to a different request
  | 'degraded'; // storage failed or timed out: the handler ran without it

/** Options a route can override with `@Idempotent({...})`. */
/** What a route's `fingerprint` option is given to choose from. */
export interface FingerprintInput {
  method: string;
  /** Without the query string. */
  path: string;
  /** The query string's parameters; a repeated name has all its values. */
  query: Record<string, string[]>;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

export interface IdempotentRouteOptions {
  /** Reject requests without the header (400). Default true. */
  required?: boolean;
  /**
   * What identifies a request on this route, when not the default (method, path, canonical query
   * and body): its result is hashed as canonical JSON with the method and path. A key reused with a
   * different result is refused (422).
   *
   * @example @Idempotent({ fingerprint: ({ body }) => (body as Payment).amountCents })
   */
  fingerprint?: (request: FingerprintInput) => unknown;
  /** How long a successful response is replayed. */
  ttlSeconds?: number;
  /** The longest a claim can block duplicates: its owner stops renewing it after this. */
  lockTtlMs?: number;
}

/**
 * @example
 * IdempotencyModule.forRootAsync({
 *   inject: [RedisClient],
 *   useFactory: (redis) => ({ storage: new RedisIdempotencyStorage(redis), scope: (req) => req.user?.sub }),
 * })
 */
export interface IdempotencyModuleOptions extends IdempotentRouteOptions {
  /** Header carrying the key. Default `Idempotency-Key`. */
  headerName?: string;
  /** What a valid key looks like, after sf-string unquoting. Default 1..255 of 0x21-0x7E. */
  keyPattern?: RegExp;
  /** Namespace of keys: two scopes never share a key (e.g. the authenticated user id). Default: one global scope. */
  scope?: (request: unknown) => string | undefined;
  /** Which handler statuses are stored for replay. Default: 2xx. */
  storeStatus?: (status: number) => boolean;
  /** Response headers stored and replayed with the body. Default `['location']`. */
  storedHeaders?: string[];
  /**
   * How long a claim outlives its owner's last renewal (the owner renews every third of it while
   * running). It bounds how long retries get 409 after the owner crashed. Default 5000 ms.
   */
  lockLeaseMs?: number;
  /**
   * Default: an in-memory storage (one process only, forgotten on restart), which is refused under
   * NODE_ENV=production unless `allowInMemoryStorage`.
   */
  storage?: IdempotencyStorage;
  /** Accept the in-memory storage under NODE_ENV=production (a single process that may forget). */
  allowInMemoryStorage?: boolean;
  /** Upper bound of one storage call; past it the request goes on without the fast path. Default 250 ms. */
  storageTimeoutMs?: number;
  /**
   * Prefix of storage keys. Default `idem:`. A function is asked at every claim: changing what it
   * returns makes every entry stored under the old prefix unreachable at once, which is how a
   * service stops trusting entries its database may no longer back (after a failover that could
   * lose acknowledged writes, say); a request whose entry is unreachable runs as a first one.
   *
   * @example keyPrefix: () => `idem:${databaseGeneration()}:`
   */
  keyPrefix?: string | (() => string);
  /** Called with each request's outcome and the framework's request (metrics, request logs). */
  onOutcome?: (outcome: IdempotencyOutcome, request: unknown) => void;
}
