import { hash } from 'node:crypto';

/** The prefix of every storage key unless `keyPrefix` says otherwise. */
export const DEFAULT_KEY_PREFIX = 'idem:';

/**
 * Where one key of one scope and route is stored: `<prefix><scope>:<sha256(route \n key)>`. A key
 * belongs to a scope (the user) and a route (`POST /orders`, `PATCH /orders/:id`): the same key on
 * another route is another key, as it is in a database that keeps each route's keys in its own table.
 * The key is hashed (fixed length, any characters); the scope is URI-encoded so that no scope can
 * forge another's prefix.
 *
 * @example storageKeyFor('alice', 'order-1', 'idem:', 'POST /orders') // 'idem:alice:3c9b…'
 */
export function storageKeyFor(
  scope: string,
  key: string,
  prefix = DEFAULT_KEY_PREFIX,
  route = '',
): string {
  // crypto.hash: the one-shot form, about three times faster than createHash for short inputs.
  const keyHash = hash('sha256', route ? `${route}\n${key}` : key);
  return `${prefix}${encodeURIComponent(scope)}:${keyHash}`;
}

/** A route's name in storage keys: its method and path template, `POST /orders`. */
export function routeName(
  method: string,
  ...paths: (string | undefined)[]
): string {
  const path = paths
    .flatMap((part) => (part ?? '').split('/'))
    .filter(Boolean)
    .join('/');
  return `${method.toUpperCase()} /${path}`;
}
