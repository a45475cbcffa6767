import { DEFAULT_HEADER_NAME } from './idempotency.constants';
import { DEFAULT_KEY_PATTERN } from './idempotency-key';
import type {
  IdempotencyModuleOptions,
  IdempotentRouteOptions,
} from './idempotency-options.interface';
import { DEFAULT_KEY_PREFIX } from './storage-key';

/** The module's options with every default filled in, once. */
export type ResolvedIdempotencyOptions = Required<
  Omit<
    IdempotencyModuleOptions,
    | 'storage'
    | 'onOutcome'
    | 'fingerprint'
    | 'allowInMemoryStorage'
    | 'keyPrefix'
  >
> & { keyPrefix: () => string } & Pick<
    IdempotencyModuleOptions,
    'onOutcome' | 'fingerprint'
  >;

export function resolveOptions(
  options: IdempotencyModuleOptions,
): ResolvedIdempotencyOptions {
  return {
    headerName: options.headerName ?? DEFAULT_HEADER_NAME,
    keyPattern: options.keyPattern ?? DEFAULT_KEY_PATTERN,
    scope: options.scope ?? (() => 'global'),
    storeStatus:
      options.storeStatus ?? ((status) => status >= 200 && status < 300),
    storedHeaders: (options.storedHeaders ?? ['location']).map((name) =>
      name.toLowerCase(),
    ),
    lockLeaseMs: options.lockLeaseMs ?? 5000,
    storageTimeoutMs: options.storageTimeoutMs ?? 250,
    keyPrefix: prefixFunction(options.keyPrefix ?? DEFAULT_KEY_PREFIX),
    required: options.required ?? true,
    ttlSeconds: options.ttlSeconds ?? 86400,
    lockTtlMs: options.lockTtlMs ?? 30000,
    onOutcome: options.onOutcome,
    fingerprint: options.fingerprint,
  };
}

/** A route's options with the module's defaults filled in (`fingerprint` stays optional). */
export type ResolvedRouteOptions = Required<
  Omit<IdempotentRouteOptions, 'fingerprint'>
> &
  Pick<IdempotentRouteOptions, 'fingerprint'>;

/** A route's `@Idempotent({...})` over the module's resolved defaults. */
export function resolveRouteOptions(
  defaults: ResolvedIdempotencyOptions,
  route: IdempotentRouteOptions | undefined,
): ResolvedRouteOptions {
  return {
    required: route?.required ?? defaults.required,
    ttlSeconds: route?.ttlSeconds ?? defaults.ttlSeconds,
    lockTtlMs: route?.lockTtlMs ?? defaults.lockTtlMs,
    fingerprint: route?.fingerprint ?? defaults.fingerprint,
  };
}

function prefixFunction(prefix: string | (() => string)): () => string {
  return typeof prefix === 'function' ? prefix : () => prefix;
}
