import { type AddressInfo, createServer, type Server, Socket } from 'node:net';

/** A request line starts every HTTP/1.1 request; a body chunk never does. */
const REQUEST_LINE =
  /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \S+ HTTP\/1\.1\r\n/;

/**
 * A lossy network in front of one app instance, as the client sees it. For each HTTP request it
 * rolls a seeded die: drop the request before the app sees it (the connection is cut), or let the
 * app process it and drop its answer (the connection is cut when the first byte of the answer comes
 * back), or pass it through. `retarget()` points it at a restarted instance's new port; while the
 * target is down, every connection fails like a refused one.
 */
export class LossyHttpProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  requestsDropped = 0;
  answersDropped = 0;
  requestsPassed = 0;

  private targetPort: number;
  private readonly random: () => number;
  private readonly dropRequestShare: number;
  private readonly dropAnswerShare: number;

  // Plain fields, no parameter properties: scripts load this file through Node's type stripping.
  private constructor(
    targetPort: number,
    random: () => number,
    dropRequestShare: number,
    dropAnswerShare: number,
  ) {
    this.targetPort = targetPort;
    this.random = random;
    this.dropRequestShare = dropRequestShare;
    this.dropAnswerShare = dropAnswerShare;
    this.server = createServer((client) => this.accept(client));
  }

  static async start(
    targetPort: number,
    options: {
      random: () => number;
      dropRequests: number;
      dropAnswers: number;
    },
  ): Promise<LossyHttpProxy> {
    const proxy = new LossyHttpProxy(
      targetPort,
      options.random,
      options.dropRequests,
      options.dropAnswers,
    );
    await new Promise<void>((resolve) =>
      proxy.server.listen(0, '127.0.0.1', resolve),
    );
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  retarget(port: number): void {
    this.targetPort = port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const upstream = new Socket();
    upstream.connect(this.targetPort, '127.0.0.1');
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', cut);
      socket.on('close', () => {
        this.sockets.delete(socket);
        cut();
      });
    }
    let dropNextAnswer = false;
    client.on('data', (chunk: Buffer) => {
      if (REQUEST_LINE.test(chunk.toString('latin1', 0, 64))) {
        const roll = this.random();
        if (roll < this.dropRequestShare) {
          this.requestsDropped++;
          return cut();
        }
        dropNextAnswer = roll < this.dropRequestShare + this.dropAnswerShare;
        this.requestsPassed++;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (dropNextAnswer) {
        this.answersDropped++;
        return cut();
      }
      client.write(chunk);
    });
  }
}
