import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { UnauthorizedError } from '../common/errors';
import { tagRequest } from '../observability/request-tags';
import { AuthenticatedRequest } from './authenticated-user';
import { BearerTokenVerifier } from './bearer-token.verifier';
import { IS_PUBLIC } from './public.decorator';

/**
 * Every route needs `Authorization: Bearer <JWT>` (see BearerTokenVerifier) unless marked @Public().
 * Any failure is the same 401 (with `WWW-Authenticate: Bearer`), so a caller learns nothing about
 * why; the reason goes on the request's log line (`authRefusal`).
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly tokens: BearerTokenVerifier,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (
      this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
        context.getHandler(),
        context.getClass(),
      ])
    ) {
      return true;
    }
    const request = context.switchToHttp().getRequest<
      AuthenticatedRequest & {
        headers: Record<string, string | string[] | undefined>;
      }
    >();
    const verdict = this.tokens.verdictOf(request);
    if ('refusal' in verdict) {
      // RFC 6750: say the scheme, and whether the token sent was the problem; the reason is logged.
      tagRequest(request, { authRefusal: verdict.refusal });
      context
        .switchToHttp()
        .getResponse<{ header(name: string, value: string): unknown }>()
        .header(
          'www-authenticate',
          verdict.tokenSent
            ? 'Bearer realm="orders", error="invalid_token"'
            : 'Bearer realm="orders"',
        );
      throw new UnauthorizedError();
    }
    request.user = { id: verdict.subject };
    tagRequest(request, { userId: verdict.subject });
    return true;
  }
}
