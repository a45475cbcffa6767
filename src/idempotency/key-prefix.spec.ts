import { ClaimStore } from './claim-store';
import { resolveOptions } from './resolved-options';
import { InMemoryIdempotencyStorage } from './storage/in-memory.storage';
import { storageKeyFor } from './storage-key';

describe('keyPrefix', () => {
  const route = {
    required: true,
    ttlSeconds: 60,
    lockTtlMs: 30_000,
  } as Parameters<ClaimStore['newClaim']>[3];
  const claimStore = (keyPrefix?: string | (() => string)) =>
    new ClaimStore(
      new InMemoryIdempotencyStorage(),
      resolveOptions({ keyPrefix }),
      () => undefined,
      {},
    );
  const storageKey = (store: ClaimStore) =>
    store.newClaim('alice', 'order-1', 'fp', route, 'POST /orders').storageKey;

  it('defaults to idem: and keeps a fixed string', () => {
    expect(storageKey(claimStore())).toBe(
      storageKeyFor('alice', 'order-1', 'idem:', 'POST /orders'),
    );
    expect(storageKey(claimStore('shop:'))).toBe(
      storageKeyFor('alice', 'order-1', 'shop:', 'POST /orders'),
    );
  });

  it('as a function, is asked at every claim: a new prefix makes the old entries unreachable', () => {
    let generation = 1;
    const store = claimStore(() => `idem:g${generation}:`);
    const before = storageKey(store);
    expect(storageKey(store)).toBe(before);
    generation = 2;
    expect(storageKey(store)).not.toBe(before);
    expect(storageKey(store)).toBe(
      storageKeyFor('alice', 'order-1', 'idem:g2:', 'POST /orders'),
    );
  });
});
