import { randomUUID } from 'node:crypto';
import {
  JetStreamApiError,
  jetstreamManager,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import {
  AcknowledgementTimeoutError,
  StreamPublisher,
  type StreamMessage,
} from '../src/nats/stream-publisher';
import { startNatsServer, type NatsServer } from './support/nats-server';

/**
 * The relay's publisher against a real nats-server: what each answer of the server becomes, and
 * that an answer it cannot read or never gets settles its message instead of stalling the batch.
 */
describe('StreamPublisher', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let publisher: StreamPublisher;
  const stream = 'PUBLISHER';

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: stream,
      subjects: ['stored.>'],
      max_msg_size: 256,
    });
    publisher = new StreamPublisher(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  const message = (subject: string, data = '{}', id: string = randomUUID()) => {
    const h = headers();
    h.set('Nats-Msg-Id', id);
    return { subject, data, headers: h } satisfies StreamMessage;
  };
  const waiting = () =>
    (publisher as unknown as { waiting: Map<string, unknown> }).waiting.size;

  it('stores each message of a batch once: a duplicate of a stored one counts as stored', async () => {
    const before = (await jsm.streams.info(stream)).state.messages;
    const first = message('stored.a');
    const outcomes = await publisher.publish(
      [
        first,
        message('stored.b'),
        message('stored.a', '{}', first.headers.get('Nats-Msg-Id')),
      ],
      2000,
    );
    expect(outcomes).toEqual([undefined, undefined, undefined]);
    expect((await jsm.streams.info(stream)).state.messages).toBe(before + 2);
    expect(waiting()).toBe(0);
  });

  it('a refusal of the stream is a JetStreamApiError for that message only; no stream on a subject is said at once', async () => {
    const [stored, tooLarge, nowhere] = await publisher.publish(
      [
        message('stored.c'),
        message('stored.d', 'x'.repeat(1000)),
        message('unstored.e'),
      ],
      10_000,
    );
    expect(stored).toBeUndefined();
    expect(tooLarge).toBeInstanceOf(JetStreamApiError);
    expect(tooLarge!.message).toMatch(/message size exceeds maximum allowed/);
    expect(nowhere).toBeInstanceOf(Error);
    expect(nowhere).not.toBeInstanceOf(JetStreamApiError);
    // Answered by the server, not timed out.
    expect(nowhere).not.toBeInstanceOf(AcknowledgementTimeoutError);
    expect(nowhere!.message).toMatch(/no responders/);
  });

  it('an answer that is not an acknowledgement, or none at all, settles its message; a late one is ignored', async () => {
    // A plain subscriber where a stream should be: it answers garbage, or nothing, or too late.
    const replies = nc.subscribe('impostor.>', {
      callback: (_error, msg) => {
        if (msg.subject === 'impostor.garbage') msg.respond('not json');
        if (msg.subject === 'impostor.empty') msg.respond('{}');
        if (msg.subject === 'impostor.late')
          setTimeout(() => msg.respond('{"stream":"X","seq":1}'), 1500);
      },
    });
    try {
      const [garbage, empty, silent, late] = await publisher.publish(
        [
          message('impostor.garbage'),
          message('impostor.empty'),
          message('impostor.silent'),
          message('impostor.late'),
        ],
        500,
      );
      expect(garbage!.message).toMatch(/not JSON/);
      expect(empty!.message).toMatch(/no stream/);
      expect(silent).toBeInstanceOf(AcknowledgementTimeoutError);
      expect(late).toBeInstanceOf(AcknowledgementTimeoutError);
      expect(waiting()).toBe(0);
      // The late answer arrives after its batch ended: nothing to settle, nothing kept.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(waiting()).toBe(0);
      expect(await publisher.publish([message('stored.f')], 2000)).toEqual([
        undefined,
      ]);
    } finally {
      replies.unsubscribe();
    }
  });

  it('an empty batch resolves at once', async () => {
    expect(await publisher.publish([], 2000)).toEqual([]);
  });

  it('a closed connection fails every message of the batch at once', async () => {
    const own = await connect({ servers: nats.url });
    const closing = new StreamPublisher(own);
    await own.close();
    const outcomes = await closing.publish(
      [message('stored.g'), message('stored.h')],
      10_000,
    );
    expect(outcomes.every((o) => o instanceof Error)).toBe(true);
    expect(outcomes[0]).not.toBeInstanceOf(AcknowledgementTimeoutError);
  });
});
