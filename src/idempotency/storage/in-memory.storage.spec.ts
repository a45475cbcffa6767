import { describeIdempotencyStorageContract } from '../testing';
import { InMemoryIdempotencyStorage } from './in-memory.storage';

describe('InMemoryIdempotencyStorage', () => {
  const lock = (token: string) => ({
    state: 'in_flight' as const,
    fingerprint: 'f',
    token,
    renewUntil: Date.now() + 1000,
  });

  it('lets one claim win, and only its owner complete it', async () => {
    const storage = new InMemoryIdempotencyStorage();
    expect(await storage.claim('k', lock('a'), 1000)).toBeNull();
    expect(await storage.claim('k', lock('b'), 1000)).toMatchObject({
      token: 'a',
    });
    expect(await storage.release('k', 'b')).toBe(false);
    expect(await storage.release('k', 'a')).toBe(true);
  });

  it('holds at most maxEntries keys: the oldest goes first', async () => {
    const storage = new InMemoryIdempotencyStorage(Date.now, 3);
    for (const key of ['k1', 'k2', 'k3', 'k4'])
      expect(await storage.claim(key, lock(key), 60_000)).toBeNull();
    // k1 was evicted: claimable again; k4 is still held.
    expect(await storage.claim('k1', lock('again'), 60_000)).toBeNull();
    expect(await storage.claim('k4', lock('x'), 60_000)).toMatchObject({
      token: 'k4',
    });
  });

  it('expires entries by the clock it is given', async () => {
    let now = 0;
    const storage = new InMemoryIdempotencyStorage(() => now);
    await storage.claim('k', lock('a'), 100);
    now = 100;
    expect(await storage.claim('k', lock('b'), 100)).toBeNull();
  });
});

describeIdempotencyStorageContract('InMemoryIdempotencyStorage', () =>
  Promise.resolve({ storage: new InMemoryIdempotencyStorage() }),
);
