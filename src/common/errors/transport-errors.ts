import type { FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { securityHeadersFor } from '../security-headers';
import { ErrorEnvelope } from './app.exception';
import { ErrorCode } from './error-codes';

/**
 * Errors Fastify raises before a route is found (a malformed or over-long URL). They get the same
 * envelope as everything else and never echo the URL back.
 */
export function frameworkErrorEnvelope(error: { code?: string }): {
  status: number;
  body: ErrorEnvelope;
} {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH')
    return {
      status: 414,
      body: envelope(ErrorCode.URI_TOO_LONG, 'A path segment is too long'),
    };
  return {
    status: 400,
    body: envelope(ErrorCode.BAD_REQUEST, 'The URL is malformed'),
  };
}

/** Fastify's `frameworkErrors` option: the envelope, with the headers every other response carries. */
export function replyToFrameworkError(
  error: Error & { code?: string },
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const { status, body } = frameworkErrorEnvelope(error);
  void reply
    .code(status)
    .headers(securityHeadersFor(request))
    .header('x-request-id', request.id)
    .type('application/json')
    .send(body);
}

/** What the HTTP parser's own failures (no request object exists yet) are answered with. */
export function clientErrorEnvelope(error: { code?: string }): {
  status: number;
  body: ErrorEnvelope;
} {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        body: envelope(
          ErrorCode.REQUEST_TIMEOUT,
          'The request did not arrive in time',
        ),
      };
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        body: envelope(
          ErrorCode.HEADERS_TOO_LARGE,
          'The request headers are too large',
        ),
      };
    case 'HPE_URI_TOO_LONG':
      return {
        status: 414,
        body: envelope(ErrorCode.URI_TOO_LONG, 'The URL is too long'),
      };
    default:
      return {
        status: 400,
        body: envelope(
          ErrorCode.BAD_REQUEST,
          'The request is not valid HTTP (e.g. a bad Content-Length)',
        ),
      };
  }
}

/**
 * Fastify's `clientErrorHandler`: the socket-level errors of Node's HTTP parser and its request
 * timeout, written as a complete response in the envelope, after which the connection is closed.
 */
export function replyToClientError(
  error: Error & { code?: string },
  socket: Socket,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, body } = clientErrorEnvelope(error);
  const text = JSON.stringify(body);
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  socket.destroy();
}

function envelope(code: ErrorCode, message: string): ErrorEnvelope {
  return { error: { code, message } };
}
