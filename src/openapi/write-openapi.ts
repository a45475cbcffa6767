/**
 * Writes the OpenAPI document to a file (default client/openapi.json) without a database, Redis or
 * secrets: the controllers are mounted in a small Nest context whose services are never called.
 * The client's types are generated from this file (npm run client:types).
 *
 *   node dist/openapi/write-openapi.js [file]
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { PinoLogger } from 'nestjs-pino';
import { writeFileSync } from 'node:fs';
import { HealthController } from '../health/health.controller';
import { ReadinessService } from '../health/readiness.service';
import { IdempotencyModule, InMemoryIdempotencyStorage } from '../idempotency';
import { OrderChangesService } from '../orders/order-changes.service';
import { OrdersController } from '../orders/orders.controller';
import { OrdersService } from '../orders/orders.service';
import { PaymentWebhooksController } from '../payments/payment-webhooks.controller';
import { PaymentsService } from '../payments/payments.service';
import { paymentsConfig } from '../config';
import { createOpenApiDocument } from './openapi-document';

const neverCalled = {};

@Module({
  // @Idempotent() routes need the interceptor to exist; its in-memory storage is never used.
  imports: [
    IdempotencyModule.forRoot({ storage: new InMemoryIdempotencyStorage() }),
  ],
  controllers: [OrdersController, HealthController, PaymentWebhooksController],
  providers: [
    ...[
      OrdersService,
      OrderChangesService,
      PaymentsService,
      ReadinessService,
    ].map((provide) => ({
      provide,
      useValue: neverCalled,
    })),
    { provide: PinoLogger, useValue: { setContext: () => undefined } },
    { provide: paymentsConfig.KEY, useValue: { webhookSecrets: [] } },
  ],
})
class OpenApiDocumentModule {}

async function writeOpenApi(file: string): Promise<void> {
  const app = await NestFactory.create(
    OpenApiDocumentModule,
    new FastifyAdapter(),
    {
      logger: ['error'],
      abortOnError: false,
    },
  );
  writeFileSync(
    file,
    `${JSON.stringify(createOpenApiDocument(app), null, 2)}\n`,
  );
  await app.close();
}

writeOpenApi(process.argv[2] ?? 'client/openapi.json').catch(
  (error: unknown) => {
    console.error('could not write the OpenAPI document:', error);
    process.exit(1);
  },
);
