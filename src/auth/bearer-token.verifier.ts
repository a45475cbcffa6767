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

/** Why a request has no user: for the log line, never for the caller. */
export type TokenRefusal =
  | 'missing'
  | 'malformed'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_claims'
  | 'issued_in_future'
  | 'lifetime_too_long'
  | 'crit_header'
  | 'bad_subject';

/** The verdict on a request's token: its user, or why there is none (and whether a token was sent). */
export type TokenVerdict =
  { subject: string } | { refusal: TokenRefusal; tokenSent: boolean };

export interface BearerTokenOptions {
  /** Refuse tokens without `exp`. */
  requireExp: boolean;
  /** Longest `exp - iat` (or `exp - now` without `iat`) accepted. */
  maxLifetimeSeconds: number;
  /** Clock difference allowed on `exp`, `nbf` and `iat`. */
  clockToleranceSeconds: number;
}

const DEFAULT_OPTIONS: BearerTokenOptions = {
  requireExp: true,
  maxLifetimeSeconds: 86_400,
  clockToleranceSeconds: 30,
};

/** jsonwebtoken's error names, as the refusals the log line names. */
const JWT_ERRORS: Record<string, TokenRefusal> = {
  TokenExpiredError: 'expired',
  NotBeforeError: 'not_yet_valid',
};

/**
 * Reads the caller from `Authorization: Bearer <JWT>`: HS256 only; `exp` required unless `requireExp`
 * is off; `exp`/`nbf`/`iat` honoured with `clockToleranceSeconds`; a lifetime over
 * `maxLifetimeSeconds` refused; a `crit` header refused (RFC 7515 4.1.11: extensions this verifier
 * does not understand); `iss`/`aud` checked when configured; `sub` = user id: 1..128 characters of
 * well-formed Unicode without control characters. Used by the rate limiter (to tell users from
 * anonymous callers) and by the JWT guard, so the verdict is kept on the request: one verification
 * per request at most. A token verified once is remembered by its exact text; its `exp` and `nbf`
 * are still checked on every use.
 */
export class BearerTokenVerifier {
  private readonly verified = new Map<string, VerifiedToken>();
  private readonly perRequest = new WeakMap<object, TokenVerdict>();
  private readonly options: BearerTokenOptions;

  constructor(
    private readonly jwt: JwtService,
    options: Partial<BearerTokenOptions> = {},
  ) {
    this.options = { ...DEFAULT_OPTIONS, ...options };
  }

  /** The verified user id, or undefined when the request carries no valid token. */
  subjectOf(request: { headers: Headers }): string | undefined {
    const verdict = this.verdictOf(request);
    return 'subject' in verdict ? verdict.subject : undefined;
  }

  verdictOf(request: { headers: Headers }): TokenVerdict {
    let verdict = this.perRequest.get(request);
    if (verdict === undefined) {
      verdict = this.verify(request.headers.authorization);
      this.perRequest.set(request, verdict);
    }
    return verdict;
  }

  private verify(header: string | string[] | undefined): TokenVerdict {
    if (header === undefined) return { refusal: 'missing', tokenSent: false };
    if (typeof header !== 'string' || header.length > MAX_AUTHORIZATION_LENGTH)
      return { refusal: 'malformed', tokenSent: true };
    const token = BEARER.exec(header)?.[1];
    if (!token)
      return {
        refusal: 'malformed',
        tokenSent: /^bearer\b/i.test(header),
      };
    const refusal = (reason: TokenRefusal): TokenVerdict => ({
      refusal: reason,
      tokenSent: true,
    });
    const now = Date.now() / 1000;
    const tolerance = this.options.clockToleranceSeconds;
    const known = this.verified.get(token);
    if (known) {
      if (known.exp !== undefined && now >= known.exp + tolerance) {
        this.verified.delete(token);
        return refusal('expired');
      }
      return known.nbf !== undefined && now < known.nbf - tolerance
        ? refusal('not_yet_valid')
        : { subject: known.subject };
    }
    let decoded: { header: { crit?: unknown }; payload: TokenClaims };
    try {
      decoded = this.jwt.verify(token, {
        algorithms: ['HS256'],
        clockTolerance: tolerance,
        complete: true,
      });
    } catch (error) {
      const name = (error as Error).name;
      if (JWT_ERRORS[name]) return refusal(JWT_ERRORS[name]);
      return refusal(
        /signature/i.test((error as Error).message)
          ? 'bad_signature'
          : 'malformed',
      );
    }
    const problem = this.claimsProblem(decoded.header, decoded.payload, now);
    if (problem) return refusal(problem);
    const subject = decoded.payload.sub;
    if (!isAcceptableSubject(subject)) return refusal('bad_subject');
    const { exp, nbf } = decoded.payload;
    this.remember(token, { subject, exp, nbf });
    return { subject };
  }

  /** What jsonwebtoken leaves unchecked: `crit`, `iat`, the lifetime, a required `exp`. */
  private claimsProblem(
    header: { crit?: unknown },
    payload: TokenClaims,
    now: number,
  ): TokenRefusal | undefined {
    if (header.crit !== undefined) return 'crit_header';
    const { exp, iat } = payload;
    if (exp !== undefined && typeof exp !== 'number') return 'bad_claims';
    if (iat !== undefined && (typeof iat !== 'number' || !Number.isFinite(iat)))
      return 'bad_claims';
    if (iat !== undefined && iat > now + this.options.clockToleranceSeconds)
      return 'issued_in_future';
    if (exp === undefined)
      return this.options.requireExp ? 'bad_claims' : undefined;
    return exp - (iat ?? now) > this.options.maxLifetimeSeconds
      ? 'lifetime_too_long'
      : undefined;
  }

  private remember(token: string, verified: VerifiedToken): void {
    if (this.verified.size >= CACHE_SIZE)
      this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, verified);
  }
}

interface TokenClaims {
  sub?: unknown;
  exp?: number;
  nbf?: number;
  iat?: unknown;
}
