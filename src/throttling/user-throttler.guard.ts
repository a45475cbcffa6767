import { Injectable } from '@nestjs/common';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  normalizeIp,
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
} from '@nestjs/throttler';
import type {
  ThrottlerModuleOptions,
  ThrottlerRequest,
  ThrottlerStorage,
} from '@nestjs/throttler';
import { BearerTokenVerifier } from '../auth/bearer-token.verifier';
import { ADDRESS_THROTTLERS } from './throttle-by-address.decorator';

export type ThrottledRequest = {
  headers: Record<string, string | string[] | undefined>;
  ip?: string;
};

/**
 * Whose budget a request spends: its user's, or, without a valid token, its address's. An IPv6
 * caller is keyed by its /64 (one customer's link: it cannot mint a fresh budget per address), with
 * the throttler's own normalizeIp; IPv4 and IPv4-mapped IPv6 by the address.
 */
export function trackerOf(
  request: ThrottledRequest,
  tokens: BearerTokenVerifier,
): string {
  const subject = tokens.subjectOf(request);
  return subject ? `user:${subject}` : `ip:${normalizeIp(request.ip ?? '')}`;
}

/** One throttler's part in a route's plan: what handleRequest is given, but the request's context. */
type RecordedThrottler = Omit<ThrottlerRequest, 'context'>;

export const RATE_LIMIT_HEADER_PREFIX = 'RateLimit';
const NAMED_THROTTLER_SUFFIX = new RegExp(
  `-(${ADDRESS_THROTTLERS.join('|')})$`,
);

/** What a caller over its budget reads: a sentence, not the library's class name. */
export const RATE_LIMITED_MESSAGE =
  'Too many requests: wait for the time in Retry-After, then retry';

/**
 * One budget per user across the API (THROTTLE_LIMIT per THROTTLE_TTL_MS); per client IP for
 * requests without a valid token, so that guessing tokens is rate-limited too. Runs before the JWT
 * guard (ThrottlingModule is imported first) and shares its verification.
 */
@Injectable()
export class UserThrottlerGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly tokens: BearerTokenVerifier,
  ) {
    super(options, storage, reflector);
  }

  /**
   * Rate-limit fields under the names of the IETF draft's earlier revisions, which clients and
   * gateways widely read: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds), and
   * `Retry-After` on 429. The library suffixes a named throttler's headers (`-webhook`); one throttler
   * applies per route here, so its fields carry the plain names.
   */
  protected override headerPrefix = RATE_LIMIT_HEADER_PREFIX;

  protected override setResponseHeader(
    response: Record<string, unknown>,
    name: string,
    value: string | number,
  ): void {
    const plain = name.replace(NAMED_THROTTLER_SUFFIX, '');
    super.setResponseHeader(response, plain, value);
  }

  /**
   * Which throttlers count a route, with their limits, as the library resolved them for the route's
   * first request: its canActivate reads ~16 metadata entries and awaits three values per request
   * to find them again (4 µs of a replay's ~155, docs/performance.md). That holds because every
   * throttler here is the same for all requests of a route: numbers for limit and ttl, a skipIf that
   * reads the route's metadata only (skipUnless). A request that was refused leaves no plan: the
   * next one records it again.
   */
  private readonly plans = new WeakMap<
    object,
    Map<object, RecordedThrottler[]>
  >();
  private readonly recording = new WeakMap<
    ExecutionContext,
    RecordedThrottler[]
  >();

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const plan = this.plans.get(context.getClass())?.get(context.getHandler());
    if (!plan) return this.recordPlan(context);
    for (const throttler of plan)
      if (!(await this.handleRequest({ ...throttler, context }))) return false;
    return true;
  }

  private async recordPlan(context: ExecutionContext): Promise<boolean> {
    const plan: RecordedThrottler[] = [];
    this.recording.set(context, plan);
    try {
      const allowed = await super.canActivate(context);
      const routes =
        this.plans.get(context.getClass()) ??
        new Map<object, RecordedThrottler[]>();
      routes.set(context.getHandler(), plan);
      this.plans.set(context.getClass(), routes);
      return allowed;
    } finally {
      this.recording.delete(context);
    }
  }

  protected override handleRequest(
    request: ThrottlerRequest,
  ): Promise<boolean> {
    const { context, ...throttler } = request;
    this.recording.get(context)?.push(throttler);
    return super.handleRequest(request);
  }

  protected override getTracker(request: ThrottledRequest): Promise<string> {
    return Promise.resolve(trackerOf(request, this.tokens));
  }

  protected override generateKey(
    _context: unknown,
    tracker: string,
    name: string,
  ): string {
    return `${name}:${tracker}`;
  }
}
