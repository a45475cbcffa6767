import {
  METADATA_MAX_KEYS,
  mergeMetadata,
  metadataProblem,
} from './order-metadata';

describe('order metadata', () => {
  it('accepts up to 50 keys of [A-Za-z0-9_.-]{1,40} with string values up to 500 characters', () => {
    const full = Object.fromEntries(
      Array.from({ length: METADATA_MAX_KEYS }, (_, i) => [`k.${i}`, 'v']),
    );
    expect(metadataProblem(full)).toBeUndefined();
    expect(
      metadataProblem({ ['k'.repeat(40)]: 'v'.repeat(500) }),
    ).toBeUndefined();
    expect(metadataProblem({ ...full, extra: 'v' })).toMatch(/at most 50 keys/);
    expect(metadataProblem({ ['k'.repeat(41)]: 'v' })).toMatch(/keys must be/);
    expect(metadataProblem({ '': 'v' })).toMatch(/keys must be/);
    expect(metadataProblem({ k: 'v'.repeat(501) })).toMatch(/at most 500/);
    expect(metadataProblem({ k: 1 })).toMatch(/must be strings/);
    expect(metadataProblem({ k: { a: 'b' } })).toMatch(/must be strings/);
    expect(metadataProblem({ k: null })).toMatch(/must be strings/);
    expect(metadataProblem({ k: null }, true)).toBeUndefined();
    expect(metadataProblem(['v'])).toMatch(/object/);
    expect(metadataProblem(null)).toMatch(/object/);
  });

  it('merges as RFC 7396 does: a string sets, null deletes, absent stays; null for all clears', () => {
    expect(
      mergeMetadata({ a: '1', b: '2' }, { b: null, c: '3', a: '9' }),
    ).toEqual({ a: '9', c: '3' });
    expect(mergeMetadata({ a: '1' }, null)).toEqual({});
    // "__proto__" matches the key pattern: it is an ordinary key, never the prototype.
    const merged = mergeMetadata(
      {},
      JSON.parse('{"__proto__":"x"}') as Record<string, string>,
    );
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(Object.keys(merged)).toEqual(['__proto__']);
  });
});
