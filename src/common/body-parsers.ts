import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errorCodes } from 'fastify';
import { parse as parseJsonSafely } from 'secure-json-parse';

/** A request that kept its body's bytes unparsed (a route in `rawRoutes`). */
export interface RawBodyRequest {
  rawBody?: Buffer;
}

/**
 * JSON for every route, with Fastify's own protections (`__proto__` and `constructor.prototype` keys
 * refused), except the routes in `rawRoutes`: there the body's bytes are kept as received
 * (`request.rawBody`) and nothing is parsed, whatever the Content-Type, so that the route can
 * authenticate them (a webhook signature) before anything reads them. Replaces Nest's own parsers
 * (the app is created with `bodyParser: false`).
 */
export function registerBodyParsers(
  fastify: FastifyInstance,
  rawRoutes: ReadonlySet<string>,
): void {
  const isRaw = (request: FastifyRequest) =>
    rawRoutes.has(request.routeOptions.url ?? '');
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer' },
    (request, body: Buffer, done) => {
      if (!isRaw(request)) return parseJson(request, body.toString(), done);
      (request as RawBodyRequest).rawBody = body;
      done(null, undefined);
    },
  );
  // A JSON Merge Patch (RFC 7396) is JSON, and means something only as a PATCH body.
  fastify.addContentTypeParser(
    'application/merge-patch+json',
    { parseAs: 'string' },
    (request, body: string, done) => {
      if (request.method !== 'PATCH' || isRaw(request))
        return done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), undefined);
      return parseJson(request, body, done);
    },
  );
  // Other types reach a parser only on a raw route: every other route refuses them on arrival.
  fastify.addContentTypeParser(
    '*',
    { parseAs: 'buffer' },
    (request, body, done) => {
      if (!isRaw(request))
        return done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), undefined);
      (request as RawBodyRequest).rawBody = body as Buffer;
      done(null, undefined);
    },
  );
}

/** Parses bytes already authenticated, with the same protections as every other route's JSON. */
export function parseAuthenticatedJson(bytes: Buffer): unknown {
  return parseJsonSafely(bytes.toString('utf8'), undefined, {
    protoAction: 'error',
    constructorAction: 'error',
  });
}
