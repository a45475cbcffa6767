import { registerAs } from '@nestjs/config';
import { invalidVariable, optionalInt, optionalString } from './env';

/**
 * Order events through the transactional outbox to NATS JetStream. An empty NATS_URL turns events
 * off: no outbox rows are written and no relay runs.
 */
export const eventsConfig = registerAs('events', () => ({
  natsServers: readNatsServers(),
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
  /** Published outbox rows are purged after this; pending rows never are. */
  outboxRetentionSeconds: optionalInt(
    'EVENTS_OUTBOX_RETENTION_SECONDS',
    86400,
    {
      min: 60,
      max: 315360000,
    },
  ),
  /** Events published at once (one per order per round, so that each order's stay in sequence). */
  batchSize: optionalInt('EVENTS_BATCH_SIZE', 256, { min: 1, max: 4096 }),
  /** The relay looks for pending events this often even when no commit woke it. */
  pollMs: optionalInt('EVENTS_POLL_MS', 1000, { min: 50, max: 60000 }),
  publishTimeoutMs: optionalInt('EVENTS_PUBLISH_TIMEOUT_MS', 2000, {
    min: 100,
    max: 60000,
  }),
}));

/** `nats://host:port`, comma-separated; empty: events off. */
function readNatsServers(): string[] {
  const servers = optionalString('NATS_URL', '')
    .split(',')
    .map((server) => server.trim())
    .filter(Boolean);
  for (const server of servers) {
    let url: URL | undefined;
    try {
      url = new URL(server);
    } catch {
      url = undefined;
    }
    if (!url || !['nats:', 'tls:'].includes(url.protocol) || !url.hostname)
      return invalidVariable(
        'NATS_URL',
        `"${server}" is not a nats:// URL; expected the form nats://nats:4222[,nats://other:4222]`,
        [],
      );
  }
  return servers;
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
