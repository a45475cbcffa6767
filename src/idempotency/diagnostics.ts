import { channel } from 'node:diagnostics_channel';
import type { IdempotencyOutcome } from './idempotency-options.interface';

/**
 * The library's `node:diagnostics_channel` channels: any tracer, metrics or logging library can
 * subscribe without the application wiring anything (`diagnostics_channel.subscribe(name, fn)`).
 * Each message carries `request` (the framework's request object) and the `interceptor` that sent
 * it, which tells two applications in one process apart.
 *
 * @example
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe(IDEMPOTENCY_CHANNELS.replay, (message) => replays.inc());
 */
export const IDEMPOTENCY_CHANNELS = {
  /** A key was claimed: `result` is `claimed` (this request runs), `taken` or `unavailable`. */
  claim: 'idempotency:claim',
  /** A stored (or database-resolved) response was sent again: `outcome` `replayed` or `resolved`. */
  replay: 'idempotency:replay',
  /** 409: the same request is still running; `retryAfterSeconds`. */
  conflict: 'idempotency:conflict',
  /** 422: the key belongs to a different request (another fingerprint). */
  mismatch: 'idempotency:mismatch',
  /** A storage call failed or timed out: `operation` (claim, complete, release) and `error`. */
  storeFailure: 'idempotency:store-failure',
  /** The handler ran without the storage (the application's own constraint decides). */
  fallback: 'idempotency:fallback',
  /** Every request's outcome, the one `onOutcome` is fed from: `outcome`. */
  outcome: 'idempotency:outcome',
} as const;

interface Message {
  request: unknown;
  interceptor: object;
}

export interface ClaimMessage extends Message {
  storageKey: string;
  result: 'claimed' | 'taken' | 'unavailable';
}
export interface ReplayMessage extends Message {
  outcome: 'replayed' | 'resolved';
}
export interface ConflictMessage extends Message {
  retryAfterSeconds: number;
}
export type MismatchMessage = Message;
export interface StoreFailureMessage extends Message {
  operation: 'claim' | 'complete' | 'release';
  error: unknown;
}
export type FallbackMessage = Message;
export interface OutcomeMessage extends Message {
  outcome: IdempotencyOutcome;
}

/** The channels, looked up once; `hasSubscribers` keeps an unobserved publish nearly free. */
export const channels = {
  claim: channel(IDEMPOTENCY_CHANNELS.claim),
  replay: channel(IDEMPOTENCY_CHANNELS.replay),
  conflict: channel(IDEMPOTENCY_CHANNELS.conflict),
  mismatch: channel(IDEMPOTENCY_CHANNELS.mismatch),
  storeFailure: channel(IDEMPOTENCY_CHANNELS.storeFailure),
  fallback: channel(IDEMPOTENCY_CHANNELS.fallback),
  outcome: channel(IDEMPOTENCY_CHANNELS.outcome),
};

/** Publishes `message` on `name`'s channel when anyone listens. */
export function publish(
  name: keyof typeof channels,
  message: Message & Record<string, unknown>,
): void {
  const target = channels[name];
  if (target.hasSubscribers) target.publish(message);
}
