import { hash } from 'node:crypto';
import { IdempotentBodyTooDeepException } from './idempotency.exceptions';

/** The deepest body the fingerprint walks; deeper ones are refused (400) before the stack runs out. */
export const MAX_FINGERPRINT_DEPTH = 64;

/**
 * Serialises a JSON value with object keys sorted (recursively) and array order kept, so two bodies
 * that differ only in key order produce the same text. Numbers use JSON's own form (`1.0` -> `1`).
 *
 * @example canonicalJson({ b: 1, a: [2, 1] }) === '{"a":[2,1],"b":1}'
 */
export function canonicalJson(value: unknown, depth = 0): string {
  if (value === null || typeof value !== 'object') {
    return JSON.stringify(value) ?? 'null';
  }
  if (depth >= MAX_FINGERPRINT_DEPTH)
    throw new IdempotentBodyTooDeepException(MAX_FINGERPRINT_DEPTH);
  if (Array.isArray(value)) {
    return `[${value.map((item) => canonicalJson(item === undefined ? null : item, depth + 1)).join(',')}]`;
  }
  const record = value as Record<string, unknown>;
  const members = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort()
    .map(
      (key) =>
        `${JSON.stringify(key)}:${canonicalJson(record[key], depth + 1)}`,
    );
  return `{${members.join(',')}}`;
}

/**
 * A query string in a canonical order: parameters sorted by name, then value (a repeated name keeps
 * all its values), percent-encoded as URLSearchParams writes them. `?b=2&a=1` and `?a=1&b=2` are one
 * query; an empty or absent one is ''.
 *
 * @example canonicalQuery('?b=2&a=1&a=0') === 'a=0&a=1&b=2'
 */
export function canonicalQuery(search: string | undefined): string {
  if (!search || search === '?') return '';
  const entries = [...new URLSearchParams(search)];
  entries.sort(([a, x], [b, y]) =>
    a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0,
  );
  return new URLSearchParams(entries).toString();
}

/**
 * The identity of a request for idempotency: method, path, the query string in a canonical order,
 * and the canonical body, hashed (hex sha256). A key reused with a different fingerprint is a
 * different request and is refused. Without a query string the text hashed is what it was before
 * the query was part of it (`METHOD path\nbody`), so entries stored then still match.
 *
 * @example requestFingerprint('POST', '/orders', { a: 1 }) === requestFingerprint('post', '/orders', { a: 1 })
 * @example requestFingerprint('POST', '/orders', {}, '?x=1') !== requestFingerprint('POST', '/orders', {}, '?x=2')
 */
export function requestFingerprint(
  method: string,
  path: string,
  body: unknown,
  query?: string,
): string {
  const canonicalBody = body === undefined ? '' : canonicalJson(body);
  const search = canonicalQuery(query);
  const target = search ? `${path}?${search}` : path;
  // crypto.hash: the one-shot form, about three times faster than createHash for short inputs.
  return hash('sha256', `${method.toUpperCase()} ${target}\n${canonicalBody}`);
}
