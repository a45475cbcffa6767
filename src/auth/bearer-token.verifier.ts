import { JwtService } from '@nestjs/jwt';
import { hasUnstorableCharacter } from '../common/body-shape';

/** Longer headers are refused before any crypto runs. */
const MAX_AUTHORIZATION_LENGTH = 4096;
const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;
/** Verified tokens remembered (clients send the same token many times); the oldest goes first. */
const CACHE_SIZE = 10_000;
/** C0 and C1 control characters: never part of a user id, and some (NUL) break the database. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * A user id must be stored and compared exactly as signed. Lone surrogates would be stored as U+FFFD
 * (so "\ud800" and "\udfff" would become one user), and control characters break logs and Postgres.
 */
export function isAcceptableSubject(subject: unknown): subject is string {
  return (
    typeof subject === 'string' &&
    subject.length >= 1 &&
    subject.length <= 128 &&
    !hasUnstorableCharacter(subject) &&
    !CONTROL_CHARACTER.test(subject)
  );
}

interface VerifiedToken {
  subject: string;
  /** Seconds since the epoch, as in the token. */
  exp?: number;
  nbf?: number;
}

type Headers = Record<string, string | string[] | undefined>;

/**
 * Reads the caller from `Authorization: Bearer <JWT>` (HS256 only, `exp` required unless
 * `requireExp` is off, `exp`/`nbf` honoured, `iss`/`aud` checked when configured, `sub` = user id:
 * 1..128 characters of well-formed Unicode without control characters). Used by the rate limiter (to tell users from anonymous callers) and by the
 * JWT guard, so the answer is kept on the request: one verification per request at most. A token
 * verified once is remembered by its exact text; its `exp` and `nbf` are still checked on every use.
 */
export class BearerTokenVerifier {
  private readonly verified = new Map<string, VerifiedToken>();
  private readonly perRequest = new WeakMap<object, string | null>();

  constructor(
    private readonly jwt: JwtService,
    private readonly options: { requireExp: boolean } = { requireExp: true },
  ) {}

  /** The verified user id, or undefined when the request carries no valid token. */
  subjectOf(request: { headers: Headers }): string | undefined {
    let subject = this.perRequest.get(request);
    if (subject === undefined) {
      subject = this.verify(request.headers.authorization) ?? null;
      this.perRequest.set(request, subject);
    }
    return subject ?? undefined;
  }

  private verify(header: string | string[] | undefined): string | undefined {
    if (typeof header !== 'string' || header.length > MAX_AUTHORIZATION_LENGTH)
      return undefined;
    const token = BEARER.exec(header)?.[1];
    if (!token) return undefined;
    const now = Date.now() / 1000;
    const known = this.verified.get(token);
    if (known) {
      if (known.exp !== undefined && now >= known.exp) {
        this.verified.delete(token);
        return undefined;
      }
      return known.nbf !== undefined && now < known.nbf
        ? undefined
        : known.subject;
    }
    let payload: { sub?: unknown; exp?: number; nbf?: number };
    try {
      payload = this.jwt.verify(token, { algorithms: ['HS256'] });
    } catch {
      return undefined;
    }
    const subject = payload.sub;
    if (!isAcceptableSubject(subject)) return undefined;
    if (this.options.requireExp && typeof payload.exp !== 'number')
      return undefined;
    this.remember(token, { subject, exp: payload.exp, nbf: payload.nbf });
    return subject;
  }

  private remember(token: string, verified: VerifiedToken): void {
    if (this.verified.size >= CACHE_SIZE)
      this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, verified);
  }
}
