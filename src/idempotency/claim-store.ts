import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { renewWhileRunning } from './claim-lease';
import { publish } from './diagnostics';
import { FoldedWarning } from './folded-warning';
import type { ResolvedRouteOptions } from './resolved-options';
import type { ResolvedIdempotencyOptions } from './resolved-options';
import type {
  CompletedEntry,
  IdempotencyEntry,
  IdempotencyStorage,
  InFlightEntry,
} from './storage/idempotency-storage.interface';
import { withTimeout } from './storage/storage-timeout';
import { storageKeyFor } from './storage-key';

/** One request's hold on its key. */
export interface Claim {
  storageKey: string;
  lock: InFlightEntry;
  route: ResolvedRouteOptions;
  /** How long the lock outlives its last renewal: the wait for a retry after its owner died. */
  leaseMs: number;
}

/** What claiming a key found: ours to run, someone's entry to answer from, or no storage to ask. */
export type ClaimResult =
  | { kind: 'claimed' }
  | { kind: 'taken'; entry: IdempotencyEntry }
  | { kind: 'unavailable' };

/**
 * The storage side of the interceptor's steps: claim, keep alive, store, release. Every call is
 * bounded by `storageTimeoutMs`; a failure is reported through `onFailure(request)` and logged
 * (folded), and never fails the request: the application's own constraint still decides.
 */
export class ClaimStore {
  private readonly degraded = new FoldedWarning(
    new Logger('IdempotencyInterceptor'),
    10_000,
  );

  /** `owner`: who the diagnostics messages come from (the interceptor). */
  constructor(
    private readonly storage: IdempotencyStorage,
    private readonly options: ResolvedIdempotencyOptions,
    private readonly onFailure: (request: unknown) => void,
    private readonly owner: object,
  ) {}

  /** `routeName`: the route the key belongs to, with the scope (`POST /orders`). */
  newClaim(
    scope: string,
    key: string,
    fingerprint: string,
    route: ResolvedRouteOptions,
    routeName: string,
  ): Claim {
    return {
      storageKey: storageKeyFor(
        scope,
        key,
        this.options.keyPrefix(),
        routeName,
      ),
      lock: {
        state: 'in_flight',
        fingerprint,
        token: randomUUID(),
        renewUntil: Date.now() + route.lockTtlMs,
      },
      route,
      leaseMs: Math.min(this.options.lockLeaseMs, route.lockTtlMs),
    };
  }

  async claimKey(claim: Claim, request: unknown): Promise<ClaimResult> {
    try {
      const existing = await this.bounded(
        this.storage.claim(claim.storageKey, claim.lock, claim.leaseMs),
      );
      const result: ClaimResult = existing
        ? { kind: 'taken', entry: existing }
        : { kind: 'claimed' };
      this.published('claim', request, { result: result.kind }, claim);
      return result;
    } catch (error) {
      this.failed('claim', error, request);
      this.published('claim', request, { result: 'unavailable' }, claim);
      this.published('fallback', request);
      // A claim that timed out may still land later; queue its release behind it so that no
      // orphaned lock answers 409 to the retries of a request that has already run.
      this.storage
        .release(claim.storageKey, claim.lock.token)
        .catch(() => undefined);
      return { kind: 'unavailable' };
    }
  }

  /** Renews the lock while the handler runs; returns the function that stops renewing. */
  keepAlive(claim: Claim): () => void {
    return renewWhileRunning(
      (ttlMs) => this.storage.renew(claim.storageKey, claim.lock.token, ttlMs),
      claim.leaseMs,
      claim.lock.renewUntil,
    );
  }

  async store(
    claim: Claim,
    entry: CompletedEntry,
    request: unknown,
  ): Promise<void> {
    try {
      const ttlMs = claim.route.ttlSeconds * 1000;
      const stored = await this.bounded(
        this.storage.complete(claim.storageKey, claim.lock.token, entry, ttlMs),
      );
      if (!stored)
        this.degraded.warn(
          `claim on ${claim.storageKey} was lost before the response could be stored`,
        );
    } catch (error) {
      this.failed('complete', error, request);
    }
  }

  async release(claim: Claim, request: unknown): Promise<void> {
    try {
      await this.bounded(
        this.storage.release(claim.storageKey, claim.lock.token),
      );
    } catch (error) {
      this.failed('release', error, request);
    }
  }

  private bounded<T>(operation: Promise<T>): Promise<T> {
    return withTimeout(operation, this.options.storageTimeoutMs);
  }

  private published(
    name: 'claim' | 'fallback' | 'storeFailure',
    request: unknown,
    fields: Record<string, unknown> = {},
    claim?: Claim,
  ): void {
    publish(name, {
      request,
      interceptor: this.owner,
      ...(claim && { storageKey: claim.storageKey }),
      ...fields,
    });
  }

  private failed(
    operation: 'claim' | 'complete' | 'release',
    error: unknown,
    request: unknown,
  ): void {
    this.published('storeFailure', request, { operation, error });
    this.onFailure(request);
    this.degraded.warn(
      `idempotency storage ${operation} failed, continuing without it: ${String(error)}`,
    );
  }
}
