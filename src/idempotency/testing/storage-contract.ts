import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  CompletedEntry,
  IdempotencyStorage,
  InFlightEntry,
} from '../storage/idempotency-storage.interface';

/** What the contract needs of a store under test; `close` runs once after all its cases. */
export interface StorageUnderTest {
  storage: IdempotencyStorage;
  close?: () => Promise<void>;
}

/**
 * The contract every IdempotencyStorage keeps, as a Jest suite a store's author runs against their
 * own implementation (DynamoDB, another Redis client, ...): claims are atomic (one of many racing
 * wins), a held claim answers with its lock, only the owner completes, renews or releases, a lock
 * lapses after its lease and the late owner can then do nothing, a completed entry replaces the lock
 * and expires after its TTL, and renewal never touches a completed entry. Times are short but
 * generous (leases of 1 s where a slow machine could overrun a shorter one); keys are random, so
 * the suite can share a store with anything else.
 *
 * @example
 * // my-storage.spec.ts
 * import { describeIdempotencyStorageContract } from 'src/idempotency/testing';
 * describeIdempotencyStorageContract('MyStorage', async () => ({ storage: new MyStorage(client) }));
 */
export function describeIdempotencyStorageContract(
  name: string,
  setUp: () => Promise<StorageUnderTest>,
): void {
  describe(`${name} keeps the IdempotencyStorage contract`, () => {
    let under: StorageUnderTest;
    let storage: IdempotencyStorage;
    beforeAll(async () => {
      under = await setUp();
      storage = under.storage;
    });
    afterAll(() => under?.close?.());

    const key = () => `contract:${randomUUID()}`;
    const lock = (token: string, fingerprint = 'f'): InFlightEntry => ({
      state: 'in_flight',
      fingerprint,
      token,
      renewUntil: Date.now() + 60_000,
    });
    const done: CompletedEntry = {
      state: 'completed',
      fingerprint: 'f',
      status: 201,
      headers: { location: '/things/1' },
      body: { id: 1, nested: { list: [1, 'two', null] } },
    };

    it('claims atomically: exactly one of many racing claims wins, the rest see its lock', async () => {
      const k = key();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          storage.claim(k, lock(`t${i}`), 10_000),
        ),
      );
      const winners = results.filter((result) => result === null);
      expect(winners).toHaveLength(1);
      const tokens = new Set(
        results.filter(Boolean).map((r) => (r as InFlightEntry).token),
      );
      expect(tokens.size).toBe(1);
    });

    it('answers a claim on a held key with the lock: its fingerprint and owner', async () => {
      const k = key();
      expect(await storage.claim(k, lock('mine', 'fp-1'), 10_000)).toBeNull();
      expect(
        await storage.claim(k, lock('other', 'fp-2'), 10_000),
      ).toMatchObject({
        state: 'in_flight',
        token: 'mine',
        fingerprint: 'fp-1',
      });
    });

    it('lets only the owner complete or release; a completed entry is what later claims get', async () => {
      const k = key();
      await storage.claim(k, lock('mine'), 10_000);
      expect(await storage.release(k, 'theirs')).toBe(false);
      expect(await storage.complete(k, 'theirs', done, 10_000)).toBe(false);
      expect(await storage.complete(k, 'mine', done, 10_000)).toBe(true);
      expect(await storage.release(k, 'mine')).toBe(false);
      expect(await storage.complete(k, 'mine', done, 10_000)).toBe(false);
      expect(await storage.claim(k, lock('late'), 10_000)).toEqual(done);
    });

    it('frees a released key for the next claim', async () => {
      const k = key();
      await storage.claim(k, lock('mine'), 10_000);
      expect(await storage.release(k, 'mine')).toBe(true);
      expect(await storage.claim(k, lock('next'), 10_000)).toBeNull();
    });

    it('lets a lock lapse after its lease; the late owner can then neither complete, renew nor release', async () => {
      const k = key();
      await storage.claim(k, lock('crashed'), 300);
      await sleep(600);
      expect(await storage.claim(k, lock('retry'), 10_000)).toBeNull();
      expect(await storage.complete(k, 'crashed', done, 10_000)).toBe(false);
      expect(await storage.renew(k, 'crashed', 10_000)).toBe(false);
      expect(await storage.release(k, 'crashed')).toBe(false);
      expect(await storage.claim(k, lock('third'), 10_000)).toMatchObject({
        token: 'retry',
      });
    });

    it("renews only its owner's lock, past its first lease, and never a completed entry", async () => {
      const k = key();
      await storage.claim(k, lock('mine'), 1000);
      expect(await storage.renew(k, 'theirs', 10_000)).toBe(false);
      expect(await storage.renew(k, 'mine', 10_000)).toBe(true);
      await sleep(1500);
      expect(await storage.claim(k, lock('other'), 10_000)).toMatchObject({
        token: 'mine',
      });
      await storage.complete(k, 'mine', done, 60_000);
      expect(await storage.renew(k, 'mine', 10_000)).toBe(false);
      expect(await storage.claim(k, lock('later'), 10_000)).toEqual(done);
    });

    it('expires a completed entry after its TTL', async () => {
      const k = key();
      await storage.claim(k, lock('t'), 10_000);
      await storage.complete(k, 't', done, 300);
      expect(await storage.claim(k, lock('soon'), 10_000)).toEqual(done);
      await sleep(600);
      expect(await storage.claim(k, lock('next'), 10_000)).toBeNull();
    });

    it('keeps keys apart, however alike', async () => {
      const k = key();
      await storage.claim(k, lock('a'), 10_000);
      expect(await storage.claim(`${k}x`, lock('b'), 10_000)).toBeNull();
      expect(await storage.claim(k.slice(0, -1), lock('c'), 10_000)).toBeNull();
    });
  });
}
