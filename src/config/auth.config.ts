import { registerAs } from '@nestjs/config';
import { optionalBool, optionalString, requiredString } from './env';

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
  issuer: optionalString('JWT_ISSUER', '') || undefined,
  audience: optionalString('JWT_AUDIENCE', '') || undefined,
}));
