/**
 * The HTTP ceiling of the benchmark: a minimal NestJS 12 + Fastify app with one GET route that returns
 * a small JSON object, and nothing else (no global guards, hooks, helmet, validation or logging), so
 * that the app's ratios measure the app's own cost against the framework's.
 *
 * Two more routes add the I/O that a request of the app cannot skip, so that the bench can tell the
 * cost of that I/O from the cost of everything else the app does: GET /ceiling-redis makes the one
 * Redis round trip of a replay (fetch the stored answer; the app's rate limiter counts in memory and
 * syncs to Redis in the background), GET /ceiling-read/:id the one prepared primary-key SELECT of a
 * read, GET /ceiling-list/:user the one prepared keyset SELECT of a list's first page (21 rows).
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
    return JSON.parse((await redis.get(STORED)) ?? 'null');
  }

  async ceilingList(user: string): Promise<unknown> {
    const { rows } = await db.query({
      name: 'ceiling-list',
      text:
        'SELECT id, status, currency, items, total_cents, note, created_at, paid_at FROM orders ' +
        'WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 21',
      values: [user],
    });
    return { data: rows.slice(0, 20), nextCursor: null };
  }

  async ceilingRead(id: string): Promise<unknown> {
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
Param('user')(CeilingController.prototype, 'ceilingList', 0);
for (const [path, method] of [
  ['ceiling', 'ceiling'],
  ['ceiling-redis', 'ceilingRedis'],
  ['ceiling-read/:id', 'ceilingRead'],
  ['ceiling-list/:user', 'ceilingList'],
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
  // An answer of a replay's size: a 1-item order.
  await redis.set(
    STORED,
    JSON.stringify({
      id: '3f2b8c1e-9a4d-4c6e-8f1a-2b3c4d5e6f70',
      status: 'created',
      currency: 'USD',
      items: [{ sku: 'ABC-1', quantity: 2, unitPriceCents: 1999 }],
      totalCents: 3998,
      note: 'bench',
      createdAt: '2026-11-29T20:00:00.000Z',
      paidAt: null,
    }),
  );
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
