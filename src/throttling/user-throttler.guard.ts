import { Injectable } from '@nestjs/common';
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

type Request = {
  headers: Record<string, string | string[] | undefined>;
  ip?: string;
};

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

  protected override getTracker(request: Request): Promise<string> {
    const subject = this.tokens.subjectOf(request);
    return Promise.resolve(
      subject ? `user:${subject}` : `ip:${request.ip ?? ''}`,
    );
  }

  protected override generateKey(
    _context: unknown,
    tracker: string,
    name: string,
  ): string {
    return `${name}:${tracker}`;
  }
}
