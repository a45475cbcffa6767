import { Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { AuthenticatedRequest } from '../auth/authenticated-user';

/**
 * One budget per user across the API (THROTTLE_LIMIT per THROTTLE_TTL_MS), per client IP when there is
 * no user (public routes). Runs after the JWT guard, so `request.user` is already verified.
 */
@Injectable()
export class UserThrottlerGuard extends ThrottlerGuard {
  protected override getTracker(
    request: AuthenticatedRequest & { ip?: string },
  ): Promise<string> {
    return Promise.resolve(
      request.user ? `user:${request.user.id}` : `ip:${request.ip ?? ''}`,
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
