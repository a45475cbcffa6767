import { registerAs } from '@nestjs/config';
import {
  InvalidEnvironmentError,
  invalidVariable,
  optionalInt,
  optionalString,
} from './env';

const LOG_LEVELS = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

export const operationsConfig = registerAs('operations', () => ({
  logLevel: readLogLevel(),
  /** Empty: CORS off (no Access-Control-* headers). */
  corsOrigins: readCorsOrigins(),
  throttleLimit: optionalInt('THROTTLE_LIMIT', 300, {
    min: 1,
    max: 1_000_000_000,
  }),
  throttleTtlMs: optionalInt('THROTTLE_TTL_MS', 60000, {
    min: 100,
    max: 86_400_000,
  }),
  throttleSyncMs: optionalInt('THROTTLE_SYNC_MS', 50, { min: 1, max: 10000 }),
}));

function readLogLevel(): string {
  const level = optionalString('LOG_LEVEL', 'info').toLowerCase();
  if (!LOG_LEVELS.includes(level))
    return invalidVariable(
      'LOG_LEVEL',
      `"${level}" is not one of ${LOG_LEVELS.join(', ')}`,
      'info',
    );
  return level;
}

/** Comma-separated origins (https://shop.example.com), or `*` for any; empty or unset: off. */
function readCorsOrigins(): string[] {
  const origins = optionalString('CORS_ORIGINS', '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  for (const origin of origins) {
    if (origin === '*') continue;
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.origin !== origin)
      throw new InvalidEnvironmentError(
        'CORS_ORIGINS',
        `"${origin}" is not an origin like https://shop.example.com`,
      );
  }
  return origins;
}
