import { connect } from 'node:net';

export interface RawExchange {
  /** Everything the server sent back. */
  response: string;
  /** When the server closed the connection, in ms after it opened; undefined if it stayed open. */
  closedAfterMs?: number;
}

/**
 * Writes `text` as is to the server's socket (no HTTP client in between, so malformed requests and
 * stalled uploads are possible) and collects what comes back until the server closes the
 * connection or `waitMs` passes.
 */
export function rawHttp(
  baseUrl: string,
  text: string,
  waitMs = 5000,
): Promise<RawExchange> {
  const url = new URL(baseUrl);
  const started = Date.now();
  return new Promise((resolve) => {
    let response = '';
    const socket = connect(Number(url.port), url.hostname, () =>
      socket.write(text),
    );
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ response });
    }, waitMs);
    socket.on('data', (chunk: Buffer) => (response += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ response, closedAfterMs: Date.now() - started });
    });
  });
}

/** The JSON body of a raw HTTP/1.1 response. */
export function rawBody(response: string): unknown {
  const body = response.slice(response.indexOf('\r\n\r\n') + 4);
  return JSON.parse(body);
}
