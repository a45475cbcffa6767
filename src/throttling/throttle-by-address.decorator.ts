import { applyDecorators, SetMetadata } from '@nestjs/common';
import type { ExecutionContext } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';

/** The named throttler of routes that callers reach without a token (the payment webhook). */
export const ADDRESS_THROTTLER = 'address';
const THROTTLE_BY_ADDRESS = Symbol('throttle-by-address');

/**
 * The route has a budget of its own per client address (WEBHOOK_THROTTLE_LIMIT per THROTTLE_TTL_MS),
 * instead of the API's per-user budget: a payment provider's bursts neither spend nor are spent by
 * anyone else's.
 */
export const ThrottleByAddress = () =>
  applyDecorators(
    SkipThrottle({ default: true }),
    SetMetadata(THROTTLE_BY_ADDRESS, true),
  );

/** The address throttler's skipIf: it counts only the routes marked @ThrottleByAddress(). */
export function isNotThrottledByAddress(context: ExecutionContext): boolean {
  return (
    Reflect.getMetadata(THROTTLE_BY_ADDRESS, context.getHandler()) !== true
  );
}
