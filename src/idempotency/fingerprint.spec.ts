import { createHash } from 'node:crypto';
import {
  canonicalQuery,
  canonicalJson,
  MAX_FINGERPRINT_DEPTH,
  requestFingerprint,
} from './fingerprint';
import { IdempotentBodyTooDeepException } from './idempotency.exceptions';

describe('canonicalJson', () => {
  it('ignores object key order at every depth', () => {
    expect(
      canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } }),
    ).toBe(canonicalJson({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }));
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });

  it('keeps array order significant', () => {
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });

  it('normalises number forms as JSON does and keeps unicode', () => {
    expect(canonicalJson(JSON.parse('{"n":1.0,"m":1e2}'))).toBe(
      '{"m":100,"n":1}',
    );
    expect(canonicalJson({ s: 'é\u{1F600}' })).toBe('{"s":"é\u{1F600}"}');
  });

  it('drops undefined members like JSON.stringify', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });
});

describe('requestFingerprint', () => {
  const body = { currency: 'USD', items: [{ sku: 'A', quantity: 1 }] };

  it('is the same for the same method, path and body regardless of key order', () => {
    const reordered = { items: [{ quantity: 1, sku: 'A' }], currency: 'USD' };
    expect(requestFingerprint('POST', '/orders', body)).toBe(
      requestFingerprint('post', '/orders', reordered),
    );
  });

  it('differs when the body, the method or the path differs', () => {
    const base = requestFingerprint('POST', '/orders', body);
    expect(
      requestFingerprint('POST', '/orders', { ...body, currency: 'EUR' }),
    ).not.toBe(base);
    expect(requestFingerprint('PUT', '/orders', body)).not.toBe(base);
    expect(requestFingerprint('POST', '/payments', body)).not.toBe(base);
  });

  it('is a hex sha256', () => {
    expect(requestFingerprint('POST', '/x', undefined)).toMatch(
      /^[0-9a-f]{64}$/,
    );
  });

  it('refuses a body nested deeper than it walks with a 400, not a stack overflow', () => {
    const deep = JSON.parse(`${'['.repeat(100000)}${']'.repeat(100000)}`);
    expect(() => requestFingerprint('POST', '/x', deep)).toThrow(
      IdempotentBodyTooDeepException,
    );
    const ok = JSON.parse(
      `${'['.repeat(MAX_FINGERPRINT_DEPTH)}${']'.repeat(MAX_FINGERPRINT_DEPTH)}`,
    );
    expect(() => requestFingerprint('POST', '/x', ok)).not.toThrow();
  });

  it('covers the query string, in a canonical order', () => {
    const body = { a: 1 };
    const at = (query?: string) =>
      requestFingerprint('POST', '/orders', body, query);
    expect(at('?x=1')).not.toBe(at('?x=2'));
    expect(at('?x=1')).not.toBe(at());
    expect(at('?b=2&a=1')).toBe(at('?a=1&b=2'));
    expect(at('?a=2&a=1')).toBe(at('?a=1&a=2'));
    expect(at('?a=1&a=1')).not.toBe(at('?a=1'));
    expect(at('?x=%20')).toBe(at('?x=+'));
  });

  it('is what it was before the query counted, for a request without one (entries stored then still match)', () => {
    const before = createHash('sha256')
      .update('POST /orders\n{"a":1}')
      .digest('hex');
    expect(requestFingerprint('POST', '/orders', { a: 1 })).toBe(before);
    expect(requestFingerprint('POST', '/orders', { a: 1 }, '')).toBe(before);
    expect(requestFingerprint('POST', '/orders', { a: 1 }, '?')).toBe(before);
  });
});

describe('canonicalQuery', () => {
  it('sorts by name then value and keeps repeated names', () => {
    expect(canonicalQuery('?b=2&a=1&a=0')).toBe('a=0&a=1&b=2');
    expect(canonicalQuery(undefined)).toBe('');
  });
});
