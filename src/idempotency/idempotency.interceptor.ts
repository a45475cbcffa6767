import {
  CallHandler,
  ExecutionContext,
  Inject,
  Injectable,
  Logger,
  NestInterceptor,
} from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { createHash, randomUUID } from 'node:crypto';
import { from, lastValueFrom, Observable } from 'rxjs';
import { requestFingerprint } from './fingerprint';
import {
  attachIdempotencyContext,
  IdempotencyContext,
} from './idempotency-context';
import { IDEMPOTENT_ROUTE, REPLAYED_HEADER } from './idempotency.constants';
import { HttpExchange } from './http-exchange';
import {
  IdempotencyKeyReusedException,
  IdempotencyRequestInProgressException,
} from './idempotency.exceptions';
import { parseIdempotencyKey } from './idempotency-key';
import { IDEMPOTENCY_MODULE_OPTIONS } from './idempotency.module-definition';
import type {
  IdempotencyOutcome,
  IdempotencyModuleOptions,
  IdempotentRouteOptions,
} from './idempotency-options.interface';
import {
  CompletedEntry,
  IdempotencyEntry,
  IdempotencyStorage,
  InFlightEntry,
} from './storage/idempotency-storage.interface';
import { withTimeout } from './storage/storage-timeout';
import { renewWhileRunning } from './claim-lease';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const DEGRADED_LOG_INTERVAL_MS = 10_000;

interface HttpRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}

/** What claiming a key found: ours to run, someone's entry to answer from, or no storage to ask. */
type ClaimResult =
  | { kind: 'claimed' }
  | { kind: 'taken'; entry: IdempotencyEntry }
  | { kind: 'unavailable' };

interface Claim {
  storageKey: string;
  lock: InFlightEntry;
  route: Required<IdempotentRouteOptions>;
  /** How long the lock outlives its last renewal: the wait for a retry after its owner died. */
  leaseMs: number;
  /** The framework's request, handed to `onOutcome`. */
  request: HttpRequest;
}

/**
 * Claims the key, replays a stored response, refuses a reused key (422) or a duplicate in flight (409),
 * and stores a successful response. When storage fails it degrades to running the handler: the
 * application's own last line of defence (e.g. a unique constraint) must still hold.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  private readonly logger = new Logger(IdempotencyInterceptor.name);
  private readonly headerName: string;
  private readonly exchange: HttpExchange;
  private lastDegradedLog = 0;
  private unloggedDegraded = 0;

  constructor(
    @Inject(IDEMPOTENCY_MODULE_OPTIONS)
    private readonly options: IdempotencyModuleOptions,
    @Inject(IdempotencyStorage) private readonly storage: IdempotencyStorage,
    private readonly reflector: Reflector,
    adapterHost: HttpAdapterHost,
  ) {
    this.headerName = options.headerName ?? 'Idempotency-Key';
    this.exchange = new HttpExchange(
      adapterHost,
      reflector,
      options.storedHeaders ?? ['location'],
    );
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<HttpRequest>();
    if (SAFE_METHODS.has(request.method)) return next.handle();
    const route = this.routeOptions(context);
    const idempotency = this.readContext(request, route.required);
    if (!idempotency) return next.handle();
    attachIdempotencyContext(request, idempotency);
    return from(this.run(context, next, idempotency, route));
  }

  private async run(
    context: ExecutionContext,
    next: CallHandler,
    idempotency: IdempotencyContext,
    route: Required<IdempotentRouteOptions>,
  ): Promise<unknown> {
    const claim = this.newClaim(
      idempotency,
      route,
      context.switchToHttp().getRequest<HttpRequest>(),
    );
    const claimed = await this.claimKey(claim);
    if (claimed.kind === 'taken')
      return this.answerFromEntry(context, claimed.entry, idempotency);
    // 'unavailable': storage failed, so there is no claim to keep, store or release.
    const owned = claimed.kind === 'claimed';
    const stopRenewing = owned ? this.keepClaimAlive(claim) : undefined;
    let body: unknown;
    try {
      body = await lastValueFrom(next.handle(), { defaultValue: undefined });
    } catch (error) {
      stopRenewing?.();
      if (owned) await this.releaseClaim(claim);
      if (error instanceof IdempotencyKeyReusedException)
        this.report('key_reused', claim.request);
      throw error;
    }
    stopRenewing?.();
    this.reportSuccess(context, idempotency, claim.request);
    if (owned) await this.storeResponse(context, claim, body);
    return body;
  }

  /** `created`, or `resolved` when the handler found the original result (then marked replayed). */
  private reportSuccess(
    context: ExecutionContext,
    idempotency: IdempotencyContext,
    request: HttpRequest,
  ): void {
    if (!idempotency.replayed) return this.report('created', request);
    this.exchange.setHeader(context, REPLAYED_HEADER, 'true');
    this.report('resolved', request);
  }

  private routeOptions(
    context: ExecutionContext,
  ): Required<IdempotentRouteOptions> {
    const route = this.reflector.getAllAndOverride<
      IdempotentRouteOptions | undefined
    >(IDEMPOTENT_ROUTE, [context.getHandler(), context.getClass()]);
    return {
      required: route?.required ?? this.options.required ?? true,
      ttlSeconds: route?.ttlSeconds ?? this.options.ttlSeconds ?? 86400,
      lockTtlMs: route?.lockTtlMs ?? this.options.lockTtlMs ?? 30000,
    };
  }

  private readContext(
    request: HttpRequest,
    required: boolean,
  ): IdempotencyContext | undefined {
    const header = request.headers[this.headerName.toLowerCase()];
    if (header === undefined && !required) return undefined;
    const key = parseIdempotencyKey(
      header,
      this.headerName,
      this.options.keyPattern,
    );
    const scope = this.options.scope?.(request) ?? 'global';
    const path = request.url.split('?', 1)[0];
    return new IdempotencyContext(
      key,
      scope,
      requestFingerprint(request.method, path, request.body),
    );
  }

  private newClaim(
    idempotency: IdempotencyContext,
    route: Required<IdempotentRouteOptions>,
    request: HttpRequest,
  ): Claim {
    const keyHash = createHash('sha256').update(idempotency.key).digest('hex');
    const storageKey = `${this.options.keyPrefix ?? 'idem:'}${encodeURIComponent(idempotency.scope)}:${keyHash}`;
    const lock: InFlightEntry = {
      state: 'in_flight',
      fingerprint: idempotency.fingerprint,
      token: randomUUID(),
      expiresAt: Date.now() + route.lockTtlMs,
    };
    const leaseMs = Math.min(this.options.lockLeaseMs ?? 5000, route.lockTtlMs);
    return { storageKey, lock, route, leaseMs, request };
  }

  private async claimKey(claim: Claim): Promise<ClaimResult> {
    try {
      const existing = await this.bounded(
        this.storage.claim(claim.storageKey, claim.lock, claim.leaseMs),
      );
      return existing
        ? { kind: 'taken', entry: existing }
        : { kind: 'claimed' };
    } catch (error) {
      this.degraded('claim', error, claim.request);
      // A claim that timed out may still land later; queue its release behind it so that no
      // orphaned lock answers 409 to the retries of a request that has already run.
      this.storage
        .release(claim.storageKey, claim.lock.token)
        .catch(() => undefined);
      return { kind: 'unavailable' };
    }
  }

  private keepClaimAlive(claim: Claim): () => void {
    return renewWhileRunning(
      (ttlMs) => this.storage.renew(claim.storageKey, claim.lock.token, ttlMs),
      claim.leaseMs,
      claim.lock.expiresAt,
    );
  }

  private answerFromEntry(
    context: ExecutionContext,
    entry: IdempotencyEntry,
    idempotency: IdempotencyContext,
  ): unknown {
    if (entry.fingerprint !== idempotency.fingerprint) {
      this.report('key_reused', context.switchToHttp().getRequest());
      throw new IdempotencyKeyReusedException();
    }
    if (entry.state === 'in_flight') {
      this.report('conflict_in_flight', context.switchToHttp().getRequest());
      // The owner finishes or its lease lapses within one lease, whichever comes first.
      const lease = this.options.lockLeaseMs ?? 5000;
      const retryAfter = Math.max(
        1,
        Math.ceil(Math.min(lease, entry.expiresAt - Date.now()) / 1000),
      );
      this.exchange.setHeader(context, 'Retry-After', String(retryAfter));
      throw new IdempotencyRequestInProgressException(retryAfter);
    }
    this.report('replayed', context.switchToHttp().getRequest());
    return this.exchange.replay(context, entry);
  }

  private async storeResponse(
    context: ExecutionContext,
    claim: Claim,
    body: unknown,
  ): Promise<void> {
    const status = this.exchange.status(context);
    const storable =
      this.options.storeStatus?.(status) ?? (status >= 200 && status < 300);
    if (!storable) return this.releaseClaim(claim);
    const entry: CompletedEntry = {
      state: 'completed',
      fingerprint: claim.lock.fingerprint,
      status,
      headers: this.exchange.headersToStore(context),
      body,
    };
    try {
      const ttlMs = claim.route.ttlSeconds * 1000;
      const stored = await this.bounded(
        this.storage.complete(claim.storageKey, claim.lock.token, entry, ttlMs),
      );
      if (!stored)
        this.logger.warn(
          `claim on ${claim.storageKey} was lost before the response could be stored`,
        );
    } catch (error) {
      this.degraded('complete', error, claim.request);
    }
  }

  private async releaseClaim(claim: Claim): Promise<void> {
    try {
      await this.bounded(
        this.storage.release(claim.storageKey, claim.lock.token),
      );
    } catch (error) {
      this.degraded('release', error, claim.request);
    }
  }

  private bounded<T>(operation: Promise<T>): Promise<T> {
    return withTimeout(operation, this.options.storageTimeoutMs ?? 250);
  }

  /**
   * Counted every time (through `onOutcome`), logged at most once per DEGRADED_LOG_INTERVAL_MS with the
   * number left unlogged: a storage outage under load must not become a log flood.
   */
  private degraded(operation: string, error: unknown, request: unknown): void {
    this.report('degraded', request);
    const now = Date.now();
    if (now - this.lastDegradedLog < DEGRADED_LOG_INTERVAL_MS) {
      this.unloggedDegraded++;
      return;
    }
    const unlogged = this.unloggedDegraded;
    this.lastDegradedLog = now;
    this.unloggedDegraded = 0;
    this.logger.warn(
      `idempotency storage ${operation} failed, continuing without it: ${String(error)}` +
        (unlogged > 0 ? ` (${unlogged} more since the last warning)` : ''),
    );
  }

  private report(outcome: IdempotencyOutcome, request: unknown): void {
    this.options.onOutcome?.(outcome, request);
  }
}
