import { registerAs } from '@nestjs/config';
import { optionalInt } from './env';

export const throttleConfig = registerAs('throttle', () => ({
  limit: optionalInt('THROTTLE_LIMIT', 300, { min: 1, max: 1_000_000_000 }),
  ttlMs: optionalInt('THROTTLE_TTL_MS', 60000, { min: 100, max: 86_400_000 }),
  syncMs: optionalInt('THROTTLE_SYNC_MS', 50, { min: 1, max: 10000 }),
  /**
   * The payment webhook's own budget per client address and window: a provider flushing its retry
   * queue sends bursts, so it is far above a user's, and it is not shared with the API's.
   */
  webhookLimit: optionalInt('WEBHOOK_THROTTLE_LIMIT', 6000, {
    min: 1,
    max: 1_000_000_000,
  }),
  /**
   * The health probes' budget per client address and window: far above what a load balancer's
   * probes need (one a second each), so that only a flood from one address meets it.
   */
  healthLimit: optionalInt('HEALTH_THROTTLE_LIMIT', 1200, {
    min: 1,
    max: 1_000_000_000,
  }),
}));
