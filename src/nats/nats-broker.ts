import {
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import {
  DiscardPolicy,
  jetstreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import {
  connect,
  credsAuthenticator,
  nanos,
  nkeyAuthenticator,
  type ConnectionOptions,
  type NatsConnection,
} from '@nats-io/transport-node';
import { eventsConfig } from '../config';
import { StreamPublisher, type StreamMessage } from './stream-publisher';

/** What the stream must be for the relay's guarantees (subjects, deduplication window, replicas). */
export interface StreamRequirements {
  name: string;
  subjects: string[];
  duplicateWindowSeconds: number;
  replicas: number;
  maxAgeSeconds: number;
  maxBytes: number;
  maxMessageBytes: number;
  /** Deny deletes and purges: turned on when asked, never off (JetStream refuses that). */
  denyDeletes: boolean;
}

const RETRY_CONNECT_MS = 500;

/** The stream exists with a configuration the relay cannot use, and JetStream refused to change it. */
export class IncompatibleStreamError extends Error {}

/**
 * The one connection to NATS: connects in the background and reconnects forever, so that a broker
 * that is down at start-up or later never stops the app (events wait in the outbox meanwhile).
 */
@Injectable()
export class NatsBroker implements OnApplicationShutdown {
  private readonly logger = new Logger('Nats');
  private connection?: Promise<NatsConnection>;
  private publisher?: StreamPublisher;
  private connected?: NatsConnection;
  private lastFailedAt = 0;
  private readonly subscriptions = new Map<string, () => void>();

  constructor(
    @Inject(eventsConfig.KEY)
    private readonly config: ConfigType<typeof eventsConfig>,
  ) {}

  /**
   * Publishes the messages to the stream at once and waits at most `timeoutMs` for their
   * acknowledgements: what became of each (undefined: the stream holds it). Rejects while NATS has
   * never answered.
   */
  async publishToStream(
    messages: StreamMessage[],
    timeoutMs: number,
  ): Promise<(Error | undefined)[]> {
    const nc = await this.connect();
    this.publisher ??= new StreamPublisher(nc);
    return this.publisher.publish(messages, timeoutMs);
  }

  /** Whether NATS answers within `timeoutMs` (the start-up line asks once). */
  async answers(timeoutMs = 2000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const connected = this.connect().then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([connected, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Creates the stream, or updates it to the requirements; IncompatibleStreamError if refused. */
  async ensureStream(required: StreamRequirements): Promise<void> {
    const jsm = await jetstreamManager(await this.connect());
    const existing = await jsm.streams
      .info(required.name)
      .catch(() => undefined);
    const deny = required.denyDeletes || !!existing?.config.deny_delete;
    const config: Partial<StreamConfig> & { name: string } = {
      name: required.name,
      subjects: required.subjects,
      duplicate_window: nanos(required.duplicateWindowSeconds * 1000),
      num_replicas: required.replicas,
      max_age: nanos(required.maxAgeSeconds * 1000),
      max_bytes: required.maxBytes,
      max_msg_size: required.maxMessageBytes,
      // Full: refuse new events (they wait in the outbox), never drop old ones a consumer may not
      // have read yet.
      discard: DiscardPolicy.New,
      deny_delete: deny,
      deny_purge: deny || !!existing?.config.deny_purge,
    };
    try {
      if (!existing) await jsm.streams.add(config);
      else await jsm.streams.update(required.name, config);
    } catch (error) {
      const wanted = `subjects ${required.subjects.join(',')}, ${required.replicas} replica(s), duplicate window ${required.duplicateWindowSeconds} s`;
      throw new IncompatibleStreamError(
        existing
          ? `stream ${required.name} exists with a configuration JetStream will not change to ${wanted}: ${(error as Error).message}`
          : `stream ${required.name} (${wanted}) could not be created: ${(error as Error).message}`,
      );
    }
  }

  /** Calls `handler` for each core message on `subject`, once connected (and across reconnects). */
  subscribe(subject: string, handler: () => void): void {
    this.subscriptions.set(subject, handler);
    this.connected?.subscribe(subject, { callback: () => handler() });
  }

  /**
   * One empty core message on `subject`, fire and forget. Not connected yet: it starts connecting
   * and the message is dropped (nothing queues up while NATS is away).
   */
  signal(subject: string): void {
    if (!this.connected) return void this.connect().catch(() => undefined);
    try {
      this.connected.publish(subject);
    } catch {
      // Closing: the message does not matter.
    }
  }

  private connect(): Promise<NatsConnection> {
    // Refused within the last half second: do not knock again for every caller.
    if (!this.connection && Date.now() - this.lastFailedAt < RETRY_CONNECT_MS)
      return Promise.reject(new Error('NATS is not answering'));
    this.connection ??= connect({
      servers: this.config.natsServers,
      ...this.credentials(),
      name: 'orders',
      maxReconnectAttempts: -1,
      reconnectTimeWait: RETRY_CONNECT_MS,
      timeout: 2000,
      // No Error (with its stack) built ahead for every request (the stream's management; the
      // relay's publishes are not requests, see StreamPublisher). A timeout still says which subject.
      noAsyncTraces: true,
    })
      .then((nc) => {
        this.connected = nc;
        for (const [subject, handler] of this.subscriptions)
          nc.subscribe(subject, { callback: () => handler() });
        return nc;
      })
      .catch((error: unknown) => {
        // Not answering yet: a later call tries again.
        this.connection = undefined;
        this.lastFailedAt = Date.now();
        throw error;
      });
    return this.connection;
  }

  /** The connection's credentials, from the config (never logged). */
  private credentials(): Partial<ConnectionOptions> {
    const { user, pass, token, creds, nkeySeed } = this.config.natsAuth;
    return {
      user,
      pass,
      token,
      authenticator: creds
        ? credsAuthenticator(creds)
        : nkeySeed
          ? nkeyAuthenticator(nkeySeed)
          : undefined,
    };
  }

  async onApplicationShutdown(): Promise<void> {
    const nc = await this.connection?.catch(() => undefined);
    await nc
      ?.drain()
      .catch((error: unknown) =>
        this.logger.warn(`NATS drain failed: ${String(error)}`),
      );
  }
}
