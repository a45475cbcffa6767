import { registerAs } from '@nestjs/config';
import { optionalInt } from './env';

export const throttleConfig = registerAs('throttle', () => ({
  limit: optionalInt('THROTTLE_LIMIT', 300, { min: 1, max: 1_000_000_000 }),
  ttlMs: optionalInt('THROTTLE_TTL_MS', 60000, { min: 100, max: 86_400_000 }),
  syncMs: optionalInt('THROTTLE_SYNC_MS', 50, { min: 1, max: 10000 }),
}));
