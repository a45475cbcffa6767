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
 * The identity of a request for idempotency: method, path and canonical body, hashed (hex sha256).
 * A key reused with a different fingerprint is a different request and is refused.
 *
 * @example requestFingerprint('POST', '/orders', { a: 1 }) === requestFingerprint('post', '/orders', { a: 1 })
 */
export function requestFingerprint(
  method: string,
  path: string,
  body: unknown,
): string {
  const canonicalBody = body === undefined ? '' : canonicalJson(body);
  // crypto.hash: the one-shot form, about three times faster than createHash for short inputs.
  return hash('sha256', `${method.toUpperCase()} ${path}\n${canonicalBody}`);
}
