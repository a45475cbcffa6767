import { tagRequest } from '../observability/request-tags';
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { JwtService } from '@nestjs/jwt';
import { UnauthorizedError } from '../common/errors';
import { AuthenticatedRequest } from './authenticated-user';
import { IS_PUBLIC } from './public.decorator';

/** Longer headers are refused before any crypto runs. */
const MAX_AUTHORIZATION_LENGTH = 4096;
const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/**
 * Every route needs `Authorization: Bearer <JWT>` (HS256 only, `exp`/`nbf` honoured, `sub` = user id)
 * unless marked @Public(). Any failure is the same 401, so a caller learns nothing about why.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly jwt: JwtService,
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
    request.user = { id: this.verifiedSubject(request.headers.authorization) };
    tagRequest(request, { userId: request.user.id });
    return true;
  }

  private verifiedSubject(header: string | string[] | undefined): string {
    if (typeof header !== 'string' || header.length > MAX_AUTHORIZATION_LENGTH)
      throw new UnauthorizedError();
    const token = BEARER.exec(header)?.[1];
    if (!token) throw new UnauthorizedError();
    let payload: { sub?: unknown };
    try {
      payload = this.jwt.verify<{ sub?: unknown }>(token, {
        algorithms: ['HS256'],
      });
    } catch {
      throw new UnauthorizedError();
    }
    const subject = payload.sub;
    if (
      typeof subject !== 'string' ||
      subject.length < 1 ||
      subject.length > 128
    )
      throw new UnauthorizedError();
    return subject;
  }
}
