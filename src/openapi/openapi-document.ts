import type { INestApplication } from '@nestjs/common';
import {
  DocumentBuilder,
  type OpenAPIObject,
  SwaggerModule,
} from '@nestjs/swagger';
import { retrySemanticsTable } from '../common/retry-semantics';

const API_DESCRIPTION = `
Orders whose creation is always safe to retry.

**Retry semantics.** Every \`POST /orders\` carries an \`Idempotency-Key\` (unique per order, e.g. a UUID).
Keys are scoped to the authenticated user.

${retrySemanticsTable()}

Any 4xx or 5xx is not remembered: a corrected retry with the same key runs again.

Two windows. Redis replays a stored response for IDEMPOTENCY_TTL_SECONDS (default 24 h). Postgres
resolves the key to the original order for IDEMPOTENCY_KEY_RETENTION_SECONDS (default 48 h, never shorter
than the Redis window), so within it a retry never creates a second order, even with Redis unavailable.
After the retention window the key is forgotten and may be reused: it then makes a new order.
`;

/**
 * The OpenAPI document of the app's routes: served at /docs-json, and written to a file without a
 * database by write-openapi.ts (the client's types are generated from it).
 */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('orders')
    .setDescription(API_DESCRIPTION)
    .setVersion('1.0')
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: 'HS256, claim sub = user id',
    })
    .build();
  return SwaggerModule.createDocument(app, config);
}
