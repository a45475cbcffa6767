import { applyDecorators, SetMetadata } from '@nestjs/common';
import type { ExecutionContext } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';

/**
 * The named throttlers of routes that callers reach without a token, each a budget per client
 * address: the payment provider's webhook (WEBHOOK_THROTTLE_LIMIT) and the health probes
 * (HEALTH_THROTTLE_LIMIT).
 */
export const ADDRESS_THROTTLERS = ['webhook', 'health'] as const;
export type AddressThrottler = (typeof ADDRESS_THROTTLERS)[number];

const THROTTLE_BY_ADDRESS = Symbol('throttle-by-address');

/**
 * The route (or controller) has a budget of its own per client address instead of the API's per-user
 * budget: a payment provider's bursts or a load balancer's probes neither spend nor are spent by
 * anyone else's.
 */
export const ThrottleByAddress = (throttler: AddressThrottler) =>
  applyDecorators(
    SkipThrottle({ default: true }),
    SetMetadata(THROTTLE_BY_ADDRESS, throttler),
  );

/** The skipIf of an address throttler: it counts only the routes marked with its name. */
export function skipUnless(
  throttler: AddressThrottler,
): (context: ExecutionContext) => boolean {
  return (context) =>
    (Reflect.getMetadata(THROTTLE_BY_ADDRESS, context.getHandler()) ??
      Reflect.getMetadata(THROTTLE_BY_ADDRESS, context.getClass())) !==
    throttler;
}
