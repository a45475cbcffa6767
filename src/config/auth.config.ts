import { registerAs } from '@nestjs/config';
import {
  optionalBool,
  optionalInt,
  optionalString,
  requiredString,
} from './env';

/** HS256 needs a key as long as its hash: 32 bytes. */
export const MIN_JWT_SECRET_BYTES = 32;
/** Secrets copied from examples and docs: anyone who read them could mint tokens. */
const PLACEHOLDER =
  /change-?me|placeholder|your[-_]?secret|example|(secret[-_]?){2,}/i;

/** Why `secret` must not sign tokens, or undefined when it may. */
export function weakSecretProblem(secret: string): string | undefined {
  if (Buffer.byteLength(secret) < MIN_JWT_SECRET_BYTES)
    return `must be at least ${MIN_JWT_SECRET_BYTES} bytes (e.g. openssl rand -hex 32)`;
  if (PLACEHOLDER.test(secret))
    return 'is a published placeholder; generate one (openssl rand -hex 32)';
  if (new Set(secret).size < 10)
    return 'repeats too few characters to be random; generate one (openssl rand -hex 32)';
  return undefined;
}

export const authConfig = registerAs('auth', () => ({
  jwtSecret: requiredString('JWT_SECRET', weakSecretProblem),
  /** Tokens without `exp` would never expire; refused unless this is turned off. */
  requireExp: optionalBool('JWT_REQUIRE_EXP', true),
  /** Longest lifetime (exp - iat, or exp - now without iat) a token may claim. */
  maxLifetimeSeconds: optionalInt('JWT_MAX_LIFETIME_SECONDS', 86_400, {
    min: 60,
    max: 31_536_000,
  }),
  /** Clock difference between the token issuer and this service allowed on exp, nbf and iat. */
  clockToleranceSeconds: optionalInt('JWT_CLOCK_TOLERANCE_SECONDS', 30, {
    min: 0,
    max: 300,
  }),
  issuer: optionalString('JWT_ISSUER', '') || undefined,
  audience: optionalString('JWT_AUDIENCE', '') || undefined,
}));
