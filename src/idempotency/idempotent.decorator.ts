import { applyDecorators, SetMetadata, UseInterceptors } from '@nestjs/common';
import { IdempotentRouteOptions } from './idempotency-options.interface';
import { IdempotencyInterceptor } from './idempotency.interceptor';

import { IDEMPOTENT_ROUTE } from './idempotency.constants';

/**
 * Makes a route idempotent: a retried request with the same key replays the first response.
 * Safe methods (GET, HEAD, OPTIONS) pass through untouched.
 *
 * @example
 * @Post() @Idempotent() create(@Body() dto: CreateOrderDto) { ... }
 * @Post('notes') @Idempotent({ required: false }) note() { ... }
 */
export function Idempotent(
  options: IdempotentRouteOptions = {},
): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(IDEMPOTENT_ROUTE, options),
    UseInterceptors(IdempotencyInterceptor),
  );
}
