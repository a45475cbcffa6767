import { registerAs } from '@nestjs/config';
import {
  invalidVariable,
  optionalBool,
  optionalInt,
  optionalString,
} from './env';

export const idempotencyConfig = registerAs('idempotency', () => ({
  ...readKeyRetention(),
  lockTtlMs: optionalInt('IDEMPOTENCY_LOCK_TTL_MS', 30000, {
    min: 100,
    max: 3600000,
  }),
  lockLeaseMs: optionalInt('IDEMPOTENCY_LOCK_LEASE_MS', 5000, {
    min: 100,
    max: 3600000,
  }),
  // Stored responses compressed (less Redis memory) or as JSON (less CPU); both are always read.
  compressResponses: optionalBool('IDEMPOTENCY_COMPRESS_RESPONSES', true),
  /** AES-256-GCM keys for stored responses: the first encrypts, all decrypt; none, plain. */
  encryptionKeys: readEncryptionKeys(),
}));

/**
 * IDEMPOTENCY_ENCRYPTION_KEYS: comma-separated keys of 32 bytes each, base64 (openssl rand -base64 32)
 * or 64 hex digits. One that is neither is named, never echoed.
 */
function readEncryptionKeys(): Buffer[] {
  const keys: Buffer[] = [];
  const entries = optionalString('IDEMPOTENCY_ENCRYPTION_KEYS', '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const [index, entry] of entries.entries()) {
    const key = /^[0-9a-f]{64}$/i.test(entry)
      ? Buffer.from(entry, 'hex')
      : Buffer.from(entry, 'base64');
    if (
      key.length !== 32 ||
      (!/^[0-9a-f]{64}$/i.test(entry) && !/^[A-Za-z0-9+/]{43}=$/.test(entry))
    )
      return invalidVariable(
        'IDEMPOTENCY_ENCRYPTION_KEYS',
        `key ${index + 1} is not 32 bytes in base64 or hex (generate one with openssl rand -base64 32)`,
        [],
      );
    keys.push(key);
  }
  return keys;
}

/**
 * How long Postgres keeps deduplicating a key. It must cover the Redis replay window, or a key could
 * make a new order while Redis still replays the old one.
 */
function readKeyRetention() {
  const ttlSeconds = optionalInt('IDEMPOTENCY_TTL_SECONDS', 86400, {
    min: 1,
    max: 31536000,
  });
  const keyRetentionSeconds = optionalInt(
    'IDEMPOTENCY_KEY_RETENTION_SECONDS',
    172800,
    { min: 1, max: 315360000 },
  );
  if (keyRetentionSeconds < ttlSeconds)
    invalidVariable(
      'IDEMPOTENCY_KEY_RETENTION_SECONDS',
      `${keyRetentionSeconds} is shorter than IDEMPOTENCY_TTL_SECONDS (${ttlSeconds})`,
      undefined,
    );
  return {
    ttlSeconds,
    keyRetentionSeconds,
    purgeIntervalSeconds: optionalInt(
      'IDEMPOTENCY_PURGE_INTERVAL_SECONDS',
      600,
      {
        min: 1,
        max: 86400,
      },
    ),
    purgeBatchSize: optionalInt('IDEMPOTENCY_PURGE_BATCH_SIZE', 1000, {
      min: 1,
      max: 100000,
    }),
  };
}
