import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { ThrottlerStorage } from '@nestjs/throttler';
import { BearerTokenVerifier } from '../auth/bearer-token.verifier';
import { AppException, ErrorCode } from '../common/errors';
import { throttleConfig } from '../config';
import {
  RATE_LIMITED_MESSAGE,
  trackerOf,
  type ThrottledRequest,
} from './user-throttler.guard';

/** 429 for a request that matched no route; the hook that throws it sets Retry-After. */
export class RateLimitedError extends AppException {
  constructor(readonly retryAfterSeconds: number) {
    super(
      ErrorCode.TOO_MANY_REQUESTS,
      RATE_LIMITED_MESSAGE,
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}

/**
 * Counts requests that match no route against the caller's budget, as the guard counts the API's:
 * guards never run for them, so a scanner probing paths would otherwise be free of any limit.
 */
@Injectable()
export class UnmatchedRouteLimiter {
  constructor(
    @Inject(ThrottlerStorage) private readonly storage: ThrottlerStorage,
    private readonly tokens: BearerTokenVerifier,
    @Inject(throttleConfig.KEY)
    private readonly config: ConfigType<typeof throttleConfig>,
  ) {}

  /** Throws RateLimitedError when the caller is over its budget. */
  async hit(request: ThrottledRequest): Promise<void> {
    const { limit, ttlMs } = this.config;
    const key = `default:${trackerOf(request, this.tokens)}`;
    const record = await this.storage.increment(
      key,
      ttlMs,
      limit,
      0,
      'default',
    );
    if (record.isBlocked) throw new RateLimitedError(record.timeToBlockExpire);
  }
}
