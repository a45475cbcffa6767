/** A request that has claimed its key and is still running. */
export interface InFlightEntry {
  state: 'in_flight';
  fingerprint: string;
  /** Random per claim: only the claimant may complete or release it. */
  token: string;
  /** Epoch ms after which its owner never renews it again (the lock TTL's hard deadline). */
  renewUntil: number;
  /**
   * Epoch ms at which the lock lapses unless its owner renews it: filled in by a storage that can tell,
   * on the entry `claim` returns (never stored). It tells a live owner (renewed within the last third
   * of a lease) from a dead one, so that a retry is told the shortest honest wait.
   */
  leaseExpiresAt?: number;
}

/** The stored response of a request that succeeded. */
export interface CompletedEntry {
  state: 'completed';
  fingerprint: string;
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export type IdempotencyEntry = InFlightEntry | CompletedEntry;

/**
 * Where claims and responses live. Every method must be atomic on its own: two callers racing on
 * one key must see exactly one winner.
 *
 * @example
 * const existing = await storage.claim(key, lock, 30_000);
 * if (existing === null) { ...run...; await storage.complete(key, lock.token, response, ttlMs); }
 */
export interface IdempotencyStorage {
  /** Stores `lock` if the key is free and returns null; otherwise returns the entry already there. */
  claim(
    key: string,
    lock: InFlightEntry,
    lockTtlMs: number,
  ): Promise<IdempotencyEntry | null>;
  /** Replaces the caller's lock by the response, only while the lock still holds `token`. */
  complete(
    key: string,
    token: string,
    entry: CompletedEntry,
    ttlMs: number,
  ): Promise<boolean>;
  /** Extends the caller's lock to `ttlMs` from now, only while it still holds `token`. */
  renew(key: string, token: string, ttlMs: number): Promise<boolean>;
  /** Deletes the caller's lock, only while it still holds `token`. */
  release(key: string, token: string): Promise<boolean>;
}

/** DI token of the storage, named like the interface (the @nestjs/throttler convention). */
export const IdempotencyStorage = Symbol('IdempotencyStorage');
