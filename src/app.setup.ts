import { DrainingIndicator } from './health/draining.indicator';
import { INestApplication } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { appConfig } from './config';
import { HttpAdapterHost } from '@nestjs/core';
import {
  FastifyAdapter,
  NestFastifyApplication,
} from '@nestjs/platform-fastify';
import { errorCodes } from 'fastify';
import { SwaggerModule } from '@nestjs/swagger';
import { createOpenApiDocument } from './openapi/openapi-document';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  AllExceptionsFilter,
  replyToClientError,
  replyToFrameworkError,
  InstanceClosingError,
  ValidationFailedError,
} from './common/errors';
import { HttpServerLimits, readHttpServerLimits } from './config/app.config';
import { findBodyProblem } from './common/body-shape';
import { registerBodyParsers } from './common/body-parsers';
import { PAYMENT_WEBHOOK_ROUTE } from './payments/payment-webhook.route';
import { MetricsService } from './observability/metrics.service';
import { logRequest } from './observability/request-log';
import { tagRequest } from './observability/request-tags';
import { PinoLogger } from 'nestjs-pino';
import { AppValidationPipe } from './common/app-validation.pipe';
import { securityHeadersFor } from './common/security-headers';
import { CORS_POLICY } from './common/cors';
import {
  RateLimitedError,
  UnmatchedRouteLimiter,
} from './throttling/unmatched-route.limiter';

export const BODY_LIMIT_BYTES = 64 * 1024;
const JSON_CONTENT_TYPE = /^application\/json\s*(;|$)/i;
/** RFC 7396's media type: JSON, meaningful only as a PATCH body. */
const MERGE_PATCH_CONTENT_TYPE = /^application\/merge-patch\+json\s*(;|$)/i;
const DOCS_PREFIX = '/docs';
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Fastify with the API's limits; a well-formed client X-Request-Id is kept, any other is replaced.
 * Node checks the request and header timeouts every `connectionsCheckingInterval`, so that check runs
 * every second: a stalled upload is closed within about a second of its bound.
 */
export function createFastifyAdapter(
  trustProxy: boolean | string[] = false,
  limits: HttpServerLimits = readHttpServerLimits(),
): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy,
    requestIdHeader: false,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Inactivity in either direction, longer than any handler can take (its database waits are bounded).
    connectionTimeout: limits.requestTimeoutMs * 3,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      connectionsCheckingInterval: 1000,
    },
    // While closing, requests still arriving on open connections get our 503 (see configureApp),
    // not Fastify's own body outside the envelope.
    return503OnClosing: false,
    frameworkErrors: replyToFrameworkError,
    clientErrorHandler: replyToClientError,
    genReqId: (request: IncomingMessage) => {
      const candidate = request.headers['x-request-id'];
      const id =
        typeof candidate === 'string' && CLIENT_REQUEST_ID.test(candidate)
          ? candidate
          : randomUUID();
      // Also on the raw request, where pino-http (the request log line) picks it up.
      request.id = id;
      return id;
    },
  });
}

function hasNonJsonBody(request: {
  method: string;
  headers: Record<string, string | string[] | undefined>;
}): boolean {
  const { headers } = request;
  const length = headers['content-length'];
  const hasBody =
    (length !== undefined && length !== '0') ||
    headers['transfer-encoding'] !== undefined;
  const type = headers['content-type'];
  if (!hasBody) return false;
  if (typeof type !== 'string') return true;
  return !(
    JSON_CONTENT_TYPE.test(type) ||
    (request.method === 'PATCH' && MERGE_PATCH_CONTENT_TYPE.test(type))
  );
}

/**
 * Options every Nest application of this service is created with (main.ts and the tests): the body
 * parsers are ours (registerBodyParsers), so that the payment webhook's bytes stay unparsed until
 * their signature holds.
 */
export const APP_OPTIONS = { bodyParser: false } as const;

/** Routes whose body is authenticated as bytes before anything parses it. */
const RAW_BODY_ROUTES: ReadonlySet<string> = new Set([PAYMENT_WEBHOOK_ROUTE]);

export function setupSwagger(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => createOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
  });
}

/** Everything main.ts and the tests share: pipes, the error filter, headers, request ids, docs. */
export async function configureApp(
  app: NestFastifyApplication,
): Promise<NestFastifyApplication> {
  const config = app.get<ConfigType<typeof appConfig>>(appConfig.KEY);
  // Past the cap, new connections are closed at once: sockets (and partial bodies) stay bounded.
  app.getHttpServer().maxConnections = config.http.maxConnections;
  if (config.corsOrigins.length > 0)
    app.enableCors({
      origin: config.corsOrigins.includes('*') ? true : config.corsOrigins,
      methods: [...CORS_POLICY.methods],
      allowedHeaders: [...CORS_POLICY.allowedHeaders],
      exposedHeaders: [...CORS_POLICY.exposedHeaders],
      maxAge: CORS_POLICY.maxAge,
    });
  app.useGlobalPipes(new AppValidationPipe());
  app.useGlobalFilters(new AllExceptionsFilter(app.get(HttpAdapterHost)));
  const fastify = app.getHttpAdapter().getInstance();
  registerBodyParsers(fastify, RAW_BODY_ROUTES);
  const metrics = app.get(MetricsService);
  const unmatchedRoutes = app.get(UnmatchedRouteLimiter);
  const requestLog = await app.resolve(PinoLogger);
  requestLog.setContext('http');
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  fastify.addHook('onRequest', (request, reply, done) => {
    // helmet's security headers on every response, errors included; its defaults also suit Swagger UI.
    reply.headers(securityHeadersFor(request));
    reply.header('x-request-id', request.id);
    if (closing) {
      // The listener is closed; a request on a connection still open is told to go elsewhere.
      reply.header('connection', 'close').header('retry-after', '1');
      return done(new InstanceClosingError());
    }
    const route = request.routeOptions.url;
    tagRequest(request, { route });
    // Answers are per caller (orders, errors, tokens' verdicts): no shared or private cache keeps one.
    if (!route?.startsWith(DOCS_PREFIX))
      reply.header('cache-control', 'no-store');
    // A JSON API: any other body type is refused before it is parsed (a raw route reads its own).
    if (!RAW_BODY_ROUTES.has(route ?? '') && hasNonJsonBody(request))
      return done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE());
    if (route !== undefined) return done();
    unmatchedRoutes.hit(request).then(
      () => done(),
      (error: unknown) => {
        if (error instanceof RateLimitedError)
          reply.header('retry-after', String(error.retryAfterSeconds));
        done(error as Error);
      },
    );
  });
  const shutdown = app.get(DrainingIndicator);
  fastify.addHook('onSend', (request, reply, payload, done) => {
    // Server-side time of every response, for clients and for scripts/measure-replay.ts.
    reply.header('server-timing', `app;dur=${reply.elapsedTime.toFixed(3)}`);
    // While draining, a kept-alive connection would hold the closing server open: end it.
    if (shutdown.isDraining) reply.header('connection', 'close');
    done(null, payload);
  });
  // Refuse bodies no order can be (too deep, arrays too long, unstorable characters) in one
  // iterative walk, before the fingerprint and the validators walk them recursively.
  fastify.addHook('preHandler', (request, reply, done) => {
    const problem = findBodyProblem(request.body);
    done(problem ? new ValidationFailedError([problem]) : undefined);
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    metrics.observeRequest(
      request.method,
      // Unmatched paths share one label, so that scanners cannot explode the series count.
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    logRequest(requestLog, request, reply.statusCode, reply.elapsedTime);
    done();
  });
  if (config.docsEnabled) setupSwagger(app);
  return app;
}
