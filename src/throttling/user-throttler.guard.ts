import { Injectable } from '@nestjs/common';
import { isIPv6 } from 'node:net';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
} from '@nestjs/throttler';
import type {
  ThrottlerModuleOptions,
  ThrottlerStorage,
} from '@nestjs/throttler';
import { BearerTokenVerifier } from '../auth/bearer-token.verifier';

export type ThrottledRequest = {
  headers: Record<string, string | string[] | undefined>;
  ip?: string;
};

/** Whose budget a request spends: its user's, or, without a valid token, its address's. */
export function trackerOf(
  request: ThrottledRequest,
  tokens: BearerTokenVerifier,
): string {
  const subject = tokens.subjectOf(request);
  return subject ? `user:${subject}` : `ip:${addressKey(request.ip ?? '')}`;
}

/** What a caller over its budget reads: a sentence, not the library's class name. */
export const RATE_LIMITED_MESSAGE =
  'Too many requests: wait for the time in Retry-After, then retry';

/**
 * The rate-limit key of an anonymous caller's address. An IPv6 host gets a whole /64 (one customer's
 * link), so it cannot mint a fresh budget per address; IPv4 (and IPv4-mapped IPv6) is the address.
 */
export function addressKey(ip: string): string {
  if (!isIPv6(ip)) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  const [head, tail = ''] = ip.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::')
    ? [
        ...left,
        ...Array<string>(8 - left.length - right.length).fill('0'),
        ...right,
      ]
    : left;
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

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
