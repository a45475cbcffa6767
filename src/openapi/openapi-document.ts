import type { INestApplication } from '@nestjs/common';
import {
  DocumentBuilder,
  type OpenAPIObject,
  SwaggerModule,
} from '@nestjs/swagger';
import { retrySemanticsTable } from '../common/retry-semantics';
import { withServiceHeaders } from './service-headers';
import { WEBHOOK_SIGNATURE_SCHEME } from './security-schemes';

const API_DESCRIPTION = `
Orders whose creation is always safe to retry.

**Retry semantics.** Every \`POST /orders\` carries an \`Idempotency-Key\` (unique per order, e.g. a UUID).
Keys are scoped to the authenticated user and the route (a key used on POST /orders is another key on PATCH
/orders/{id}); a request is identified by its method, path, query string (in any order) and body.

${retrySemanticsTable()}

Any 4xx or 5xx is not remembered: a corrected retry with the same key runs again.

Two windows. Redis replays a stored response for IDEMPOTENCY_TTL_SECONDS (default 24 h). Postgres
resolves the key to the original order for IDEMPOTENCY_KEY_RETENTION_SECONDS (default 48 h, never shorter
than the Redis window), so within it a retry never creates a second order, even with Redis unavailable.
After the retention window the key is forgotten and may be reused: it then makes a new order.
`;

/**
 * Where the service is reached. First the origin that serves the document (a relative URL, as the
 * OpenAPI spec allows): Swagger UI's "Try it out" then calls the instance it was loaded from,
 * http://localhost:3000 locally or the deployment behind its proxy. Then the deployment template,
 * for generated clients and readers of the file. The API is public, not internal.
 */
const THIS_INSTANCE = {
  url: '/',
  description:
    'The instance serving this document, local or production (what Swagger UI at /docs calls)',
  'x-internal': false,
};
const SERVER = {
  url: 'https://{host}',
  description:
    'Your deployment, behind its TLS-terminating proxy; a local instance answers plain HTTP on http://localhost:3000',
  variables: {
    host: {
      default: 'orders.invalid',
      description: 'Host (and port) of your deployment',
    },
  },
  'x-internal': false,
};

/**
 * The OpenAPI document of the app's routes: served at /docs-json, and written to a file without a
 * database by write-openapi.ts (the client's types are generated from it). It passes Redocly's
 * recommended rules and Spectral's OpenAPI and OWASP rulesets (npm run lint:openapi), and its bounds
 * are the ones the service enforces.
 */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('orders')
    .setDescription(API_DESCRIPTION)
    .setVersion('1.0')
    .setLicense(
      'UNLICENSED',
      'https://docs.npmjs.com/cli/configuring-npm/package-json#license',
    )
    .addTag(
      'orders',
      'Create, read, list and cancel your orders; every create is safe to retry',
    )
    .addTag('payments', "The payment provider's webhook (Standard Webhooks)")
    .addTag(
      'health',
      'Liveness and readiness for load balancers and orchestrators (status only)',
    )
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description:
        'A JWT (RFC 7519) verified as RFC8725 (JWT Best Current Practices) asks: HS256 only (no `none`, ' +
        'no algorithm from the token), `exp` required and at most JWT_MAX_LIFETIME_SECONDS after `iat`, ' +
        '`nbf`/`iat` honoured with a small clock tolerance, `crit` refused, `iss`/`aud` checked when ' +
        'configured; claim `sub` = user id.',
    })
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'webhook-signature',
        description:
          'Standard Webhooks: HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<raw body>` with a ' +
          'PAYMENT_WEBHOOK_SECRETS secret, as `v1,<base64>`',
      },
      WEBHOOK_SIGNATURE_SCHEME,
    )
    .build();
  config.servers = [THIS_INSTANCE, SERVER];
  return withServiceHeaders(SwaggerModule.createDocument(app, config));
}
