/**
 * The HTTP ceiling of the benchmark: a minimal NestJS 12 + Fastify app with one GET route that returns
 * a small JSON object, and nothing else (no global guards, hooks, helmet, validation or logging), so
 * that the app's ratios measure the app's own cost against the framework's.
 *
 * Two more routes add the I/O that a request of the app cannot skip, so that the bench can tell the
 * cost of that I/O from the cost of everything else the app does: GET /ceiling-redis makes two Redis
 * round trips (count the request, fetch a stored answer: a replay), GET /ceiling-read/:id one Redis
 * round trip and one prepared primary-key SELECT of an order (a read).
 *
 *   node scripts/ceiling-app.ts <port> [redis-url] [database-url]
 *
 * Decorators are applied as plain calls: Node's type stripping runs this file, and it has no
 * decorator syntax.
 */
import 'reflect-metadata';
import { createClient } from 'redis';
import pg from 'pg';
import { Controller, Get, Module, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  FastifyAdapter,
  type NestFastifyApplication,
} from '@nestjs/platform-fastify';

const redis = createClient({
  url: process.argv[3] ?? 'redis://127.0.0.1:6379/11',
  RESP: 2,
});
const STORED = 'ceiling:stored';
const db = new pg.Pool({ connectionString: process.argv[4], max: 20 });

class CeilingController {
  ceiling(): { ok: boolean; service: string } {
    return { ok: true, service: 'ceiling' };
  }

  async ceilingRedis(): Promise<unknown> {
    await redis.incr('ceiling:count');
    return JSON.parse((await redis.get(STORED)) ?? 'null');
  }

  async ceilingRead(id: string): Promise<unknown> {
    await redis.incr('ceiling:count');
    const { rows } = await db.query({
      name: 'ceiling-read',
      text: 'SELECT id, status, currency, items, total_cents, note, created_at, paid_at FROM orders WHERE id = $1',
      values: [id],
    });
    return rows[0];
  }
}
Controller()(CeilingController);
Param('id')(CeilingController.prototype, 'ceilingRead', 0);
for (const [path, method] of [
  ['ceiling', 'ceiling'],
  ['ceiling-redis', 'ceilingRedis'],
  ['ceiling-read/:id', 'ceilingRead'],
] as const)
  Get(path)(
    CeilingController.prototype,
    method,
    Object.getOwnPropertyDescriptor(CeilingController.prototype, method)!,
  );

class CeilingModule {}
Module({ controllers: [CeilingController] })(CeilingModule);

async function main(): Promise<void> {
  await redis.connect();
  await redis.set(STORED, JSON.stringify({ ok: true, service: 'ceiling' }));
  const app = await NestFactory.create<NestFastifyApplication>(
    CeilingModule,
    new FastifyAdapter(),
    { logger: false },
  );
  await app.listen(Number(process.argv[2] ?? 3999), '127.0.0.1');
  process.once('SIGTERM', () => {
    void app.close().then(() => Promise.all([redis.quit(), db.end()]));
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
