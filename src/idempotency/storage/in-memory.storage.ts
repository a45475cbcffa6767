import {
  CompletedEntry,
  IdempotencyEntry,
  IdempotencyStorage,
  InFlightEntry,
} from './idempotency-storage.interface';

/**
 * Single-process storage: the module's default and a test double. Not for more than one instance.
 * Bounded: past `maxEntries` keys the oldest entry goes first (a lost entry is a miss, which the
 * application's own constraint resolves).
 *
 * @example IdempotencyModule.forRoot({ storage: new InMemoryIdempotencyStorage() })
 */
export class InMemoryIdempotencyStorage implements IdempotencyStorage {
  private readonly entries = new Map<
    string,
    { entry: IdempotencyEntry; expiresAt: number }
  >();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {}

  claim(
    key: string,
    lock: InFlightEntry,
    lockTtlMs: number,
  ): Promise<IdempotencyEntry | null> {
    const existing = this.read(key);
    if (existing)
      return Promise.resolve(
        existing.state === 'in_flight'
          ? { ...existing, leaseExpiresAt: this.entries.get(key)!.expiresAt }
          : existing,
      );
    if (this.entries.size >= this.maxEntries)
      this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { entry: lock, expiresAt: this.now() + lockTtlMs });
    return Promise.resolve(null);
  }

  complete(
    key: string,
    token: string,
    entry: CompletedEntry,
    ttlMs: number,
  ): Promise<boolean> {
    if (!this.holds(key, token)) return Promise.resolve(false);
    this.entries.set(key, { entry, expiresAt: this.now() + ttlMs });
    return Promise.resolve(true);
  }

  renew(key: string, token: string, ttlMs: number): Promise<boolean> {
    const stored = this.entries.get(key);
    if (!stored || !this.holds(key, token)) return Promise.resolve(false);
    stored.expiresAt = this.now() + ttlMs;
    return Promise.resolve(true);
  }

  release(key: string, token: string): Promise<boolean> {
    return Promise.resolve(this.holds(key, token) && this.entries.delete(key));
  }

  private holds(key: string, token: string): boolean {
    const entry = this.read(key);
    return entry?.state === 'in_flight' && entry.token === token;
  }

  private read(key: string): IdempotencyEntry | undefined {
    const stored = this.entries.get(key);
    if (stored && stored.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return stored?.entry;
  }
}
