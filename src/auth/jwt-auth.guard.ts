import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { UnauthorizedError } from '../common/errors';
import { tagRequest } from '../observability/request-tags';
import { AuthenticatedRequest } from './authenticated-user';
import { BearerTokenVerifier } from './bearer-token.verifier';
import { IS_PUBLIC } from './public.decorator';

/**
 * Every route needs `Authorization: Bearer <JWT>` (see BearerTokenVerifier) unless marked @Public().
 * Any failure is the same 401, so a caller learns nothing about why.
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
    const subject = this.tokens.subjectOf(request);
    if (!subject) throw new UnauthorizedError();
    request.user = { id: subject };
    tagRequest(request, { userId: subject });
    return true;
  }
}
