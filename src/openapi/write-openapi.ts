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
import { HealthCheckService } from '@nestjs/terminus';
import { writeFileSync } from 'node:fs';
import { DatabaseIndicator } from '../health/database.indicator';
import { DrainingIndicator } from '../health/draining.indicator';
import { HealthController } from '../health/health.controller';
import { RedisHealthIndicator } from '../health/redis.health';
import { IdempotencyModule, InMemoryIdempotencyStorage } from '../idempotency';
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
      PaymentsService,
      HealthCheckService,
      DatabaseIndicator,
      RedisHealthIndicator,
      DrainingIndicator,
    ].map((provide) => ({ provide, useValue: neverCalled })),
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
