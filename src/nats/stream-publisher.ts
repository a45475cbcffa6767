import { JetStreamApiError, type ApiError } from '@nats-io/jetstream';
import {
  createInbox,
  PermissionViolationError,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
} from '@nats-io/transport-node';

/** One message for the stream: its subject, its payload, and its headers (Nats-Msg-Id among them). */
export interface StreamMessage {
  subject: string;
  data: string;
  headers: MsgHdrs;
}

/** A message's acknowledgement had not come. */
export class AcknowledgementTimeoutError extends Error {}

interface Waiting {
  subject: string;
  settle: (error: Error | undefined) => void;
}

/**
 * JetStream publishes, a batch at a time, acknowledged through one subscription per connection.
 *
 * Hand-written instead of nats.js's `js.publish`, which makes every publish a request of its own: a
 * request record, a promise and a timer per message and, once it is answered, a
 * `RequestError("cancelled")` with its stack (@nats-io/nats-core 3.x: `RequestOne.resolver` cancels
 * the request it has just resolved). Publishing batches of 20 CloudEvents from one process, that
 * cost 30-36 µs of CPU a message, and this costs 18-21; the relay draining an outbox spends about 20
 * µs less of the app's CPU per event (docs/performance.md). Here a batch costs one timer, and a
 * message a Map entry. The batch acknowledgements of nats-server 2.12 would do better still; the
 * servers this runs against (2.9) acknowledge every message.
 *
 * What the stream answers means what it means to `js.publish`: an API error is a JetStreamApiError
 * (as nats.js's own parseJsResponse builds it), a permission violation a PermissionViolationError,
 * and no answer within the time an AcknowledgementTimeoutError.
 */
export class StreamPublisher {
  private readonly inbox = createInbox();
  /** At most one batch's messages: each leaves when it is answered or its batch times out. */
  private readonly waiting = new Map<string, Waiting>();
  private next = 0;

  constructor(private readonly nc: NatsConnection) {
    nc.subscribe(`${this.inbox}.*`, {
      callback: (error, msg) => {
        if (!error) this.answered(msg);
      },
    });
    void this.watchPermissions(nc);
  }

  /**
   * Publishes every message at once; resolves within `timeoutMs` with what became of each:
   * undefined when the stream holds it (a duplicate of one it holds included), else why not.
   */
  publish(
    messages: StreamMessage[],
    timeoutMs: number,
  ): Promise<(Error | undefined)[]> {
    return new Promise((resolve) => {
      const outcomes: (Error | undefined)[] = new Array<undefined>(
        messages.length,
      );
      const tokens: string[] = [];
      let left = messages.length;
      const finish = () => {
        clearTimeout(timer);
        for (const token of tokens) this.waiting.delete(token);
        resolve(outcomes);
      };
      const timer = setTimeout(() => {
        for (const [i, token] of tokens.entries())
          if (this.waiting.has(token))
            outcomes[i] = new AcknowledgementTimeoutError(
              `no acknowledgement from the stream within ${timeoutMs} ms (${messages[i].subject})`,
            );
        finish();
      }, timeoutMs);
      for (const [i, message] of messages.entries()) {
        const token = String(++this.next);
        tokens.push(token);
        this.waiting.set(token, {
          subject: message.subject,
          settle: (error) => {
            this.waiting.delete(token);
            outcomes[i] = error;
            if (--left === 0) finish();
          },
        });
        try {
          this.nc.publish(message.subject, message.data, {
            reply: `${this.inbox}.${token}`,
            headers: message.headers,
          });
        } catch (error) {
          // Closed, draining, or a payload over the server's limit: never sent.
          this.waiting.get(token)!.settle(error as Error);
        }
      }
      if (messages.length === 0) finish();
    });
  }

  private answered(msg: Msg): void {
    const waiting = this.waiting.get(msg.subject.slice(this.inbox.length + 1));
    if (!waiting) return; // Answered after its batch timed out.
    waiting.settle(this.outcomeOf(msg));
  }

  /** What the stream's answer says: undefined for a stored message, else the error. */
  private outcomeOf(msg: Msg): Error | undefined {
    // No stream listens on the subject (or JetStream is off): the server's 503 status, no body.
    if (msg.data.length === 0 && msg.headers?.code === 503)
      return new Error(`no stream listens on the subject (503 no responders)`);
    try {
      const ack = JSON.parse(msg.string()) as {
        stream?: string;
        error?: ApiError;
      };
      if (ack.error) return new JetStreamApiError(ack.error);
      if (!ack.stream) return new Error('invalid acknowledgement: no stream');
      return undefined;
    } catch {
      return new Error('invalid acknowledgement: not JSON');
    }
  }

  /**
   * A publish the server's permissions forbid is dropped with an -ERR naming its subject, and no
   * answer: it settles the oldest waiting message to that subject, as nats.js settles a request.
   */
  private async watchPermissions(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (
        status.type !== 'error' ||
        !(status.error instanceof PermissionViolationError) ||
        status.error.operation !== 'publish'
      )
        continue;
      for (const waiting of this.waiting.values())
        if (waiting.subject === status.error.subject) {
          waiting.settle(status.error);
          break;
        }
    }
  }
}
