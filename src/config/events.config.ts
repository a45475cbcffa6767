import { registerAs } from '@nestjs/config';
import { readFileSync } from 'node:fs';
import {
  invalidVariable,
  optionalBool,
  optionalInt,
  optionalString,
} from './env';

/**
 * The largest event the API can produce, measured by test/events-broker.e2e-spec.ts (100 items,
 * 50 metadata entries and a note at their limits, in the characters that take the most bytes:
 * 111,621 bytes), rounded up. The stream's message limit (EVENTS_STREAM_MAX_MSG_BYTES) must stay
 * above it, or such an event is parked.
 */
export const LARGEST_EVENT_BYTES = 128 * 1024;

/**
 * Order events through the transactional outbox to NATS JetStream. An empty NATS_URL turns events
 * off: no outbox rows are written and no relay runs.
 */
export const eventsConfig = registerAs('events', () => ({
  natsServers: readNatsServers(),
  /** Credentials for NATS: never logged. */
  natsAuth: readNatsAuth(),
  /** CloudEvents `source` of every event. */
  source: optionalString('EVENTS_SOURCE', '/orders'),
  stream: readStreamName(),
  streamReplicas: optionalInt('EVENTS_STREAM_REPLICAS', 1, { min: 1, max: 5 }),
  /**
   * The stream drops a message whose Nats-Msg-Id it saw within this window. It must outlast the
   * longest a relay can take to re-publish after a crash: a takeover (5 s) plus a batch's publish
   * timeout, by far; 2 minutes at least.
   */
  duplicateWindowSeconds: optionalInt('EVENTS_DUPLICATE_WINDOW_SECONDS', 300, {
    min: 120,
    max: 86400,
  }),
  maxAgeSeconds: optionalInt('EVENTS_STREAM_MAX_AGE_SECONDS', 7 * 86400, {
    min: 3600,
    max: 315360000,
  }),
  /**
   * The stream's bounds. When it is full, the stream refuses new events (discard policy `new`, so
   * that nothing a late consumer has not read is dropped to make room): they wait in the outbox
   * until `max_age` frees room, and no API request notices.
   */
  streamMaxBytes: optionalInt('EVENTS_STREAM_MAX_BYTES', 8 * 1024 ** 3, {
    min: 1024,
    max: 2 ** 50,
  }),
  streamMaxMessageBytes: optionalInt(
    'EVENTS_STREAM_MAX_MSG_BYTES',
    256 * 1024,
    { min: 1024, max: 64 * 1024 ** 2 },
  ),
  /** Messages cannot be deleted or the stream purged through the API (once on, JetStream keeps it on). */
  streamDenyDeletes: optionalBool('EVENTS_STREAM_DENY_DELETE', true),
  /** Publishes the stream refuses (too large, not permitted) before an event is parked. */
  maxPublishAttempts: optionalInt('EVENTS_MAX_PUBLISH_ATTEMPTS', 8, {
    min: 1,
    max: 1000,
  }),
  /**
   * 0: the relay deletes an event's row once the stream acknowledged it (the stream is the history).
   * More: it marks the row published, and the purge deletes it this long after (a window of history
   * in Postgres, at about 27 µs more Postgres CPU per event for the mark, and the purge's delete).
   * Pending rows are never deleted.
   */
  outboxRetentionSeconds: optionalInt('EVENTS_OUTBOX_RETENTION_SECONDS', 0, {
    min: 0,
    max: 315360000,
  }),
  /** Events published at once (one per order per round, so that each order's stay in sequence). */
  batchSize: optionalInt('EVENTS_BATCH_SIZE', 256, { min: 1, max: 4096 }),
  /** The relay looks for pending events this often even when no commit woke it. */
  pollMs: optionalInt('EVENTS_POLL_MS', 1000, { min: 50, max: 60000 }),
  publishTimeoutMs: optionalInt('EVENTS_PUBLISH_TIMEOUT_MS', 2000, {
    min: 100,
    max: 60000,
  }),
}));

function natsUrls(): URL[] {
  const urls: URL[] = [];
  for (const server of optionalString('NATS_URL', '').split(',')) {
    if (!server.trim()) continue;
    let url: URL | undefined;
    try {
      url = new URL(server.trim());
    } catch {
      url = undefined;
    }
    if (!url || !['nats:', 'tls:'].includes(url.protocol) || !url.hostname)
      return invalidVariable(
        'NATS_URL',
        `"${server.trim().replace(/\/\/[^@/]*@/, '//***@')}" is not a nats:// URL; expected the form nats://nats:4222[,nats://other:4222]`,
        [],
      );
    urls.push(url);
  }
  return urls;
}

/** `nats://host:port`, comma-separated, without userinfo (passed as credentials); empty: events off. */
function readNatsServers(): string[] {
  return natsUrls().map((url) => `${url.protocol}//${url.host}`);
}

export interface NatsAuth {
  user?: string;
  pass?: string;
  token?: string;
  /** A `.creds` file's contents (JWT and NKey seed). */
  creds?: Uint8Array;
  /** An NKey seed (`SU...`). */
  nkeySeed?: Uint8Array;
}

/**
 * NATS credentials: NATS_USER/NATS_PASSWORD (or userinfo in NATS_URL, which the v3 client would
 * ignore), NATS_TOKEN, NATS_CREDS_FILE or NATS_NKEY_SEED_FILE. A file that cannot be read is named.
 */
function readNatsAuth(): NatsAuth {
  const auth: NatsAuth = {};
  const withUser = natsUrls().find((url) => url.username);
  if (withUser) {
    auth.user = decodeURIComponent(withUser.username);
    auth.pass = decodeURIComponent(withUser.password);
  }
  const user = optionalString('NATS_USER', '');
  if (user) {
    auth.user = user;
    auth.pass = optionalString('NATS_PASSWORD', '');
  }
  const token = optionalString('NATS_TOKEN', '');
  if (token) auth.token = token;
  const creds = optionalString('NATS_CREDS_FILE', '');
  if (creds) auth.creds = readSecret('NATS_CREDS_FILE', creds);
  const seed = optionalString('NATS_NKEY_SEED_FILE', '');
  if (seed)
    auth.nkeySeed = new TextEncoder().encode(
      new TextDecoder().decode(readSecret('NATS_NKEY_SEED_FILE', seed)).trim(),
    );
  return auth;
}

function readSecret(name: string, path: string): Uint8Array | undefined {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    return invalidVariable(
      name,
      `${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      undefined,
    );
  }
}

function readStreamName(): string {
  const name = optionalString('EVENTS_STREAM', 'ORDERS');
  return /^[A-Za-z0-9_-]{1,32}$/.test(name)
    ? name
    : invalidVariable(
        'EVENTS_STREAM',
        'must be 1-32 characters of A-Z, a-z, 0-9, "_" and "-"',
        'ORDERS',
      );
}
