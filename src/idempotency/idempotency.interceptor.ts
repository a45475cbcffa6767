import {
  CallHandler,
  ExecutionContext,
  Inject,
  Injectable,
  NestInterceptor,
  OnModuleDestroy,
} from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { from, lastValueFrom, Observable } from 'rxjs';
import { retryAfterSeconds } from './claim-lease';
import { PATH_METADATA } from '@nestjs/common/constants';
import { Claim, ClaimStore } from './claim-store';
import { routeName } from './storage-key';
import { channels, type OutcomeMessage, publish } from './diagnostics';
import { requestFingerprint } from './fingerprint';
import { HttpExchange, type HttpRequest } from './http-exchange';
import {
  attachIdempotencyContext,
  IdempotencyContext,
} from './idempotency-context';
import { IDEMPOTENT_ROUTE, REPLAYED_HEADER } from './idempotency.constants';
import {
  IdempotencyKeyReusedException,
  IdempotencyRequestInProgressException,
} from './idempotency.exceptions';
import { parseIdempotencyKey } from './idempotency-key';
import { IDEMPOTENCY_MODULE_OPTIONS } from './idempotency.module-definition';
import type {
  IdempotencyModuleOptions,
  IdempotencyOutcome,
  IdempotentRouteOptions,
} from './idempotency-options.interface';
import {
  ResolvedIdempotencyOptions,
  type ResolvedRouteOptions,
  resolveOptions,
  resolveRouteOptions,
} from './resolved-options';
import {
  CompletedEntry,
  IdempotencyEntry,
  IdempotencyStorage,
} from './storage/idempotency-storage.interface';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The request's fingerprint: the route's own choice of what identifies it, or the default. */
function fingerprintOf(
  request: HttpRequest,
  route: ResolvedRouteOptions,
): string {
  const at = request.url.indexOf('?');
  const path = at < 0 ? request.url : request.url.slice(0, at);
  const search = at < 0 ? undefined : request.url.slice(at);
  if (!route.fingerprint)
    return requestFingerprint(request.method, path, request.body, search);
  const query: Record<string, string[]> = {};
  for (const [name, value] of new URLSearchParams(search))
    (query[name] ??= []).push(value);
  const chosen = route.fingerprint({
    method: request.method,
    path,
    query,
    body: request.body,
    headers: request.headers,
  });
  return requestFingerprint(request.method, path, chosen ?? null);
}

/**
 * Claims the key, replays a stored response, refuses a reused key (422) or a duplicate in flight (409),
 * and stores a successful response. When storage fails it degrades to running the handler: the
 * application's own last line of defence (e.g. a unique constraint, see `insertOnce`) must still hold.
 */
@Injectable()
export class IdempotencyInterceptor
  implements NestInterceptor, OnModuleDestroy
{
  private readonly options: ResolvedIdempotencyOptions;
  private readonly exchange: HttpExchange;
  private readonly claims: ClaimStore;
  private readonly routeNames = new WeakMap<object, string>();
  /** `onOutcome`, fed from the outcome channel (this interceptor's messages only). */
  private readonly outcomeListener?: (message: unknown) => void;

  constructor(
    @Inject(IDEMPOTENCY_MODULE_OPTIONS) options: IdempotencyModuleOptions,
    @Inject(IdempotencyStorage) storage: IdempotencyStorage,
    private readonly reflector: Reflector,
    adapterHost: HttpAdapterHost,
  ) {
    this.options = resolveOptions(options);
    this.exchange = new HttpExchange(
      adapterHost,
      reflector,
      this.options.storedHeaders,
    );
    this.claims = new ClaimStore(
      storage,
      this.options,
      (request) => this.report('degraded', request),
      this,
    );
    const onOutcome = this.options.onOutcome;
    if (onOutcome) {
      this.outcomeListener = (message) => {
        const { interceptor, outcome, request } = message as OutcomeMessage;
        if (interceptor === this) onOutcome(outcome, request);
      };
      channels.outcome.subscribe(this.outcomeListener);
    }
  }

  onModuleDestroy(): void {
    if (this.outcomeListener)
      channels.outcome.unsubscribe(this.outcomeListener);
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<HttpRequest>();
    if (SAFE_METHODS.has(request.method)) return next.handle();
    const route = resolveRouteOptions(
      this.options,
      this.reflector.getAllAndOverride<IdempotentRouteOptions | undefined>(
        IDEMPOTENT_ROUTE,
        [context.getHandler(), context.getClass()],
      ),
    );
    const idempotency = this.readContext(request, route);
    if (!idempotency) return next.handle();
    attachIdempotencyContext(request, idempotency);
    return from(this.run(context, next, idempotency, route));
  }

  private async run(
    context: ExecutionContext,
    next: CallHandler,
    idempotency: IdempotencyContext,
    route: ResolvedRouteOptions,
  ): Promise<unknown> {
    const request = context.switchToHttp().getRequest<HttpRequest>();
    const claim = this.claims.newClaim(
      idempotency.scope,
      idempotency.key,
      idempotency.fingerprint,
      route,
      this.routeNameOf(context, request.method),
    );
    const claimed = await this.claims.claimKey(claim, request);
    if (claimed.kind === 'taken')
      return this.answerFromEntry(context, claimed.entry, claim);
    // 'unavailable': storage failed, so there is no claim to keep, store or release.
    const owned = claimed.kind === 'claimed';
    const stopRenewing = owned ? this.claims.keepAlive(claim) : undefined;
    let body: unknown;
    try {
      body = await lastValueFrom(next.handle(), { defaultValue: undefined });
    } catch (error) {
      stopRenewing?.();
      if (owned) await this.claims.release(claim, request);
      if (error instanceof IdempotencyKeyReusedException) {
        publish('mismatch', { request, interceptor: this });
        this.report('key_reused', request);
      }
      throw error;
    }
    stopRenewing?.();
    this.reportSuccess(context, idempotency, request);
    if (owned) await this.storeResponse(context, claim, body);
    return body;
  }

  /** `POST /orders`: the route a key belongs to, from the controller's and handler's paths (cached). */
  private routeNameOf(context: ExecutionContext, method: string): string {
    const handler = context.getHandler();
    let name = this.routeNames.get(handler);
    if (name === undefined) {
      name = routeName(
        method,
        this.reflector.get<string>(PATH_METADATA, context.getClass()),
        this.reflector.get<string>(PATH_METADATA, handler),
      );
      this.routeNames.set(handler, name);
    }
    return name;
  }

  private readContext(
    request: HttpRequest,
    route: ResolvedRouteOptions,
  ): IdempotencyContext | undefined {
    const { headerName, keyPattern } = this.options;
    const header = request.headers[headerName.toLowerCase()];
    if (header === undefined && !route.required) return undefined;
    const key = parseIdempotencyKey(header, headerName, keyPattern);
    return new IdempotencyContext(
      key,
      this.options.scope(request) ?? 'global',
      fingerprintOf(request, route),
      headerName,
    );
  }

  private answerFromEntry(
    context: ExecutionContext,
    entry: IdempotencyEntry,
    claim: Claim,
  ): unknown {
    const request = context.switchToHttp().getRequest<HttpRequest>();
    if (entry.fingerprint !== claim.lock.fingerprint) {
      publish('mismatch', { request, interceptor: this });
      this.report('key_reused', request);
      throw new IdempotencyKeyReusedException(this.options.headerName);
    }
    if (entry.state === 'in_flight') {
      const retryAfter = retryAfterSeconds(entry, claim.leaseMs);
      publish('conflict', {
        request,
        interceptor: this,
        retryAfterSeconds: retryAfter,
      });
      this.report('conflict_in_flight', request);
      this.exchange.setHeader(context, 'Retry-After', String(retryAfter));
      throw new IdempotencyRequestInProgressException(
        retryAfter,
        this.options.headerName,
      );
    }
    publish('replay', { request, interceptor: this, outcome: 'replayed' });
    this.report('replayed', request);
    return this.exchange.replay(context, entry);
  }

  /** `created`, or `resolved` when the handler found the original result (then marked replayed). */
  private reportSuccess(
    context: ExecutionContext,
    idempotency: IdempotencyContext,
    request: HttpRequest,
  ): void {
    if (!idempotency.replayed) return this.report('created', request);
    this.exchange.setHeader(context, REPLAYED_HEADER, 'true');
    publish('replay', { request, interceptor: this, outcome: 'resolved' });
    this.report('resolved', request);
  }

  private async storeResponse(
    context: ExecutionContext,
    claim: Claim,
    body: unknown,
  ): Promise<void> {
    const request = context.switchToHttp().getRequest<HttpRequest>();
    const status = this.exchange.status(context);
    if (!this.options.storeStatus(status))
      return this.claims.release(claim, request);
    const entry: CompletedEntry = {
      state: 'completed',
      fingerprint: claim.lock.fingerprint,
      status,
      headers: this.exchange.headersToStore(context),
      body,
    };
    await this.claims.store(claim, entry, request);
  }

  /** Every outcome goes out on the outcome channel; `onOutcome` hears it from there. */
  private report(outcome: IdempotencyOutcome, request: unknown): void {
    publish('outcome', { request, interceptor: this, outcome });
  }
}
