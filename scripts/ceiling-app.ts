/**
 * The HTTP ceiling of the benchmark: a minimal NestJS 12 + Fastify app with one GET route that returns
 * a small JSON object, and nothing else (no global guards, hooks, helmet, validation or logging), so
 * that the app's ratios measure the app's own cost against the framework's.
 *
 *   node scripts/ceiling-app.ts <port>
 *
 * Decorators are applied as plain calls: Node's type stripping runs this file, and it has no
 * decorator syntax.
 */
import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  FastifyAdapter,
  type NestFastifyApplication,
} from '@nestjs/platform-fastify';

class CeilingController {
  ceiling(): { ok: boolean; service: string } {
    return { ok: true, service: 'ceiling' };
  }
}
Controller()(CeilingController);
Get('ceiling')(
  CeilingController.prototype,
  'ceiling',
  Object.getOwnPropertyDescriptor(CeilingController.prototype, 'ceiling')!,
);

class CeilingModule {}
Module({ controllers: [CeilingController] })(CeilingModule);

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(
    CeilingModule,
    new FastifyAdapter(),
    { logger: false },
  );
  await app.listen(Number(process.argv[2] ?? 3999), '127.0.0.1');
  process.once('SIGTERM', () => void app.close());
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
