import { type AddressInfo, createServer, type Server, Socket } from 'node:net';

/**
 * A TCP proxy the tests own, in front of Postgres or Redis, to inject real network faults:
 * `cut()` drops every open connection and refuses new ones; `stall()` keeps connections open but
 * holds every byte (a hung server or a black-holed network); `restore()` lets traffic through
 * again, delivering what a stall held back in order; `delay(ms)` delivers every byte `ms` late (a slow
 * network), in order.
 */
export class TcpProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private open = true;
  private stalled = false;
  private held: { to: Socket; chunk: Buffer }[] = [];
  private delayMs = 0;
  /** Chunks sent from clients towards the target so far: what the app asked of the server. */
  requestsForwarded = 0;

  private targetHost: string;
  private targetPort: number;

  // Plain fields, no parameter properties: scripts load this file through Node's type stripping.
  private constructor(targetHost: string, targetPort: number) {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    this.server = createServer((client) => this.accept(client));
  }

  static async start(target: string): Promise<TcpProxy> {
    const url = new URL(target);
    const proxy = new TcpProxy(url.hostname, Number(url.port));
    await new Promise<void>((resolve) =>
      proxy.server.listen(0, '127.0.0.1', resolve),
    );
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `target` with its host and port replaced by the proxy's. */
  urlFor(target: string): string {
    const url = new URL(target);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  /** New connections go to `target` from now on (a failover behind a fixed address). */
  retarget(target: string): void {
    const url = new URL(target);
    this.targetHost = url.hostname;
    this.targetPort = Number(url.port);
  }

  cut(): void {
    this.open = false;
    this.held = [];
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  stall(): void {
    this.stalled = true;
  }

  /** Every byte from now on arrives `ms` late (0: on time again, after what is already delayed). */
  delay(ms: number): void {
    this.delayMs = ms;
  }

  restore(): void {
    this.open = true;
    this.stalled = false;
    for (const { to, chunk } of this.held.splice(0)) to.write(chunk);
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (!this.open) {
      client.destroy();
      return;
    }
    const upstream = new Socket();
    upstream.connect(this.targetPort, this.targetHost);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', () => this.requestsForwarded++);
    this.forward(client, upstream);
    this.forward(upstream, client);
  }

  private forward(from: Socket, to: Socket): void {
    // When the last delayed chunk of this direction is due: later chunks never overtake it.
    let lastDueAt = 0;
    from.on('data', (chunk: Buffer) => {
      if (this.stalled) return void this.held.push({ to, chunk });
      const now = Date.now();
      if (this.delayMs === 0 && lastDueAt <= now) return void to.write(chunk);
      lastDueAt = Math.max(now + this.delayMs, lastDueAt);
      setTimeout(() => to.write(chunk), lastDueAt - now);
    });
  }
}
