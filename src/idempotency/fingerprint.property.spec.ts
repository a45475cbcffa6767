import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { canonicalJson, requestFingerprint } from './fingerprint';

// Property-based: thousands of generated bodies per property, any unicode in strings.
const json = fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 });

/** The same value with every object's keys in a random order. */
function shuffleKeys(value: unknown, random: () => number): unknown {
  if (Array.isArray(value))
    return value.map((item) => shuffleKeys(item, random));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>).map(
    ([key, item]) => [key, shuffleKeys(item, random)] as const,
  );
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [entries[i], entries[j]] = [entries[j], entries[i]];
  }
  return Object.fromEntries(entries);
}

const sameJson = (a: unknown, b: unknown) =>
  isDeepStrictEqual(
    JSON.parse(JSON.stringify(a)),
    JSON.parse(JSON.stringify(b)),
  );

describe('canonicalJson / requestFingerprint (properties)', () => {
  it('ignores object key order at every depth', () => {
    fc.assert(
      fc.property(json, fc.integer(), (value, seed) => {
        const random = mulberry32(seed);
        const shuffled = shuffleKeys(value, random);
        expect(canonicalJson(shuffled)).toBe(canonicalJson(value));
        expect(requestFingerprint('POST', '/orders', shuffled)).toBe(
          requestFingerprint('POST', '/orders', value),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('loses nothing: the canonical text parses back to the same value', () => {
    fc.assert(
      fc.property(json, (value) => {
        expect(sameJson(JSON.parse(canonicalJson(value)), value)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('gives two bodies one fingerprint exactly when they are the same JSON', () => {
    fc.assert(
      fc.property(json, json, (a, b) => {
        const same =
          requestFingerprint('POST', '/orders', a) ===
          requestFingerprint('POST', '/orders', b);
        expect(same).toBe(sameJson(a, b));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps array order significant', () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.integer(), { minLength: 2 })
          .filter((items) => new Set(items).size > 1),
        (items) => {
          const reversed = [...items].reverse();
          fc.pre(!isDeepStrictEqual(items, reversed));
          expect(canonicalJson(reversed)).not.toBe(canonicalJson(items));
        },
      ),
    );
  });

  it('reads every JSON spelling of a number as that number (1, 1.0, 1e0, 1.00E+0)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e9, max: 1e9 }), (n) => {
        const spellings = [`${n}`, `${n}.0`, `${n}e0`, `${n}.00E+0`];
        const fingerprints = spellings.map((text) =>
          requestFingerprint('POST', '/orders', JSON.parse(`{"n":${text}}`)),
        );
        expect(new Set(fingerprints).size).toBe(1);
      }),
    );
  });

  it('treats the method case-insensitively but the path exactly', () => {
    fc.assert(
      fc.property(
        json,
        fc.constantFrom('post', 'Post', 'POST'),
        fc.string({ minLength: 1 }),
        (body, method, suffix) => {
          expect(requestFingerprint(method, '/orders', body)).toBe(
            requestFingerprint('POST', '/orders', body),
          );
          expect(requestFingerprint('POST', `/orders${suffix}`, body)).not.toBe(
            requestFingerprint('POST', '/orders', body),
          );
        },
      ),
    );
  });
});

/**
 * A small seeded PRNG, so that a failing shuffle replays from fast-check's seed. (test/support has the
 * same one; the library's specs import nothing outside the library, so that it stays liftable.)
 */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
