import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { DEFAULT_HEADER_NAME } from './idempotency.constants';

/**
 * What the interceptor learned about the request, for handlers that persist the key themselves. A
 * handler that finds the request's original result (a retry whose first attempt committed) calls
 * `markReplayed()`: the interceptor then sends `Idempotent-Replayed: true` and reports `resolved`.
 *
 * @example if (existing) { idempotency.markReplayed(); return existing; }
 */
export class IdempotencyContext {
  private wasReplayed = false;

  constructor(
    readonly key: string,
    readonly scope: string,
    readonly fingerprint: string,
    /** The header the key came in, for error messages. */
    readonly headerName: string = DEFAULT_HEADER_NAME,
  ) {}

  get replayed(): boolean {
    return this.wasReplayed;
  }

  markReplayed(): void {
    this.wasReplayed = true;
  }
}

const CONTEXT_PROPERTY = Symbol('idempotency');

export function attachIdempotencyContext(
  request: object,
  context: IdempotencyContext,
): void {
  (request as Record<symbol, IdempotencyContext>)[CONTEXT_PROPERTY] = context;
}

export function readIdempotencyContext(
  request: object,
): IdempotencyContext | undefined {
  return (request as Record<symbol, IdempotencyContext | undefined>)[
    CONTEXT_PROPERTY
  ];
}

/**
 * Injects the request's {@link IdempotencyContext} (undefined when the key was optional and absent).
 *
 * @example create(@Body() dto: CreateOrderDto, @IdempotencyRequest() idem: IdempotencyContext) { ... }
 */
export const IdempotencyRequest = createParamDecorator(
  (_: unknown, ctx: ExecutionContext) =>
    readIdempotencyContext(ctx.switchToHttp().getRequest()),
);
