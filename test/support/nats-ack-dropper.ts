import { type AddressInfo, createServer, type Server, Socket } from 'node:net';

const CRLF = Buffer.from('\r\n');
/** The payload of a JetStream acknowledgement (msg.ack()), published to the message's `$JS.ACK.` reply subject. */
const ACK = Buffer.from('+ACK');

/**
 * A TCP proxy between NATS clients and a nats-server that loses a share of the clients'
 * acknowledgements on the way: the client believes it acknowledged, the server never hears it and
 * delivers the message again after its ack wait. Everything else (and every byte from the server)
 * passes untouched. It reads the client's side of the NATS protocol: a control line, and for PUB
 * and HPUB the payload whose size that line gives.
 */
export class NatsAckDropper {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  acksDropped = 0;
  acksPassed = 0;

  private readonly targetPort: number;
  private readonly share: number;
  private readonly random: () => number;

  // Plain fields, no parameter properties: scripts load this file through Node's type stripping.
  private constructor(targetPort: number, share: number, random: () => number) {
    this.targetPort = targetPort;
    this.share = share;
    this.random = random;
    this.server = createServer((client) => this.accept(client));
  }

  /** A proxy to the nats-server at `target` that drops `share` (0..1) of the acknowledgements. */
  static async start(
    target: string,
    share: number,
    random: () => number = Math.random,
  ): Promise<NatsAckDropper> {
    const proxy = new NatsAckDropper(
      Number(new URL(target).port),
      share,
      random,
    );
    await new Promise<void>((resolve) =>
      proxy.server.listen(0, '127.0.0.1', resolve),
    );
    return proxy;
  }

  get url(): string {
    return `nats://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const upstream = new Socket();
    this.sockets.add(client).add(upstream);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', closeBoth).on('close', closeBoth);
    upstream.on('error', closeBoth).on('close', closeBoth);
    upstream.connect(this.targetPort, '127.0.0.1');
    upstream.pipe(client);
    let pending: Buffer = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      pending = this.forward(pending, upstream);
    });
  }

  /** Forwards every complete operation in `buffer` (dropping the acks chosen); returns the rest. */
  private forward(buffer: Buffer, upstream: Socket): Buffer {
    let offset = 0;
    const passed: Buffer[] = [];
    for (;;) {
      const lineEnd = buffer.indexOf(CRLF, offset);
      if (lineEnd < 0) break;
      const line = buffer.toString('latin1', offset, lineEnd);
      const size = payloadSize(line);
      const end = size === undefined ? lineEnd + 2 : lineEnd + 2 + size + 2;
      if (end > buffer.length) break;
      const isAck =
        size !== undefined &&
        / \$JS\.ACK\./.test(line) &&
        buffer.subarray(lineEnd + 2, lineEnd + 2 + size).equals(ACK);
      if (isAck && this.random() < this.share) this.acksDropped++;
      else {
        if (isAck) this.acksPassed++;
        passed.push(buffer.subarray(offset, end));
      }
      offset = end;
    }
    if (passed.length) upstream.write(Buffer.concat(passed));
    return buffer.subarray(offset);
  }
}

/** The payload size a PUB or HPUB control line announces (its last field); none for other operations. */
function payloadSize(line: string): number | undefined {
  if (!/^H?PUB /i.test(line)) return undefined;
  return Number(line.trim().split(/\s+/).at(-1));
}
