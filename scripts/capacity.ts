/**
 * npm run capacity [-- --orders 10000]
 *
 * Measures what docs/operations.md's Capacity section states: Redis bytes per stored response (a 1-item and
 * a 20-item order), per lock and per rate-limit counter (`MEMORY USAGE`), and Postgres bytes per
 * order (table and indexes), on the production build with a fresh database and a Redis database of
 * its own (10).
 *
 * Run with Node 24 (npm puts the project's pinned node first on PATH), which strips the types.
 */
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { createClient } from 'redis';
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  measuredAppEnv,
  startAppProcess,
} from '../test/support/app-process.ts';
import { createScratchDatabase } from '../test/support/scratch-database.ts';
import { EntryCodec } from '../src/idempotency/storage/entry-codec.ts';

const { values: flags } = parseArgs({
  options: { orders: { type: 'string', default: '10000' } },
});
const orders = Number(flags.orders);
const adminUrl =
  process.env.CAPACITY_ADMIN_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.CAPACITY_REDIS_URL ?? 'redis://127.0.0.1:6379/10';
const ORDER = JSON.stringify({
  currency: 'USD',
  items: [{ sku: 'ABC-1', quantity: 2, unitPriceCents: 1999 }],
  note: 'leave at the door',
});
const BIG_ORDER = JSON.stringify({
  currency: 'USD',
  items: Array.from({ length: 20 }, (_, i) => ({
    sku: `SKU-${1000 + i}`,
    quantity: 1 + (i % 3),
    unitPriceCents: 499 + i * 100,
  })),
  note: 'leave at the door',
});
/** Users whose orders have 20 items: their keys are measured apart. */
const BIG = 'capacity-big-';

async function main(): Promise<void> {
  const database = await createScratchDatabase(adminUrl, 'orders_capacity');
  const databaseUrl = database.url;
  const redis = createClient({ url: redisUrl });
  await redis.connect();
  await redis.flushDb();
  const secret = randomBytes(32).toString('hex');
  const app = await startAppProcess(
    measuredAppEnv({ databaseUrl, redisUrl, jwtSecret: secret }),
    { discardStdout: true },
  );
  try {
    const users = Array.from({ length: 100 }, (_, i) => `capacity-user-${i}`);
    const bigUsers = Array.from({ length: 10 }, (_, i) => `${BIG}${i}`);
    let sent = 0;
    await Promise.all(
      [...users, ...bigUsers].map(async (user) => {
        const token = jwt.sign({ sub: user }, secret, {
          algorithm: 'HS256',
          expiresIn: 3600,
        });
        const big = user.startsWith(BIG);
        for (let own = 0; big ? own < 20 : sent < orders; own++) {
          if (!big) sent++;
          const response = await fetch(`${app.url}/orders`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': 'application/json',
              'idempotency-key': randomUUID(),
            },
            body: big ? BIG_ORDER : ORDER,
          });
          if (response.status !== 201)
            throw new Error(`create: ${response.status}`);
          await response.arrayBuffer();
        }
      }),
    );
    const keys = await redis.keys('*');
    const sizes: Record<string, number[]> = {};
    for (const key of keys) {
      const kind = !key.startsWith('idem:')
        ? 'rate-limit counter'
        : key.startsWith(`idem:${BIG}`)
          ? 'stored response, 20 items'
          : 'stored response';
      (sizes[kind] ??= []).push(Number(await redis.memoryUsage(key)));
    }
    // A lock: the in-flight entry the app writes, same shape, field sizes and encoding.
    const lockKey = `idem:capacity-user-0:${randomBytes(32).toString('hex')}`;
    await redis.set(
      lockKey,
      new EntryCodec().encodeLock({
        state: 'in_flight',
        fingerprint: randomBytes(32).toString('hex'),
        token: randomUUID(),
        renewUntil: Date.now() + 30_000,
      }),
      { PX: 5000 },
    );
    sizes.lock = [Number(await redis.memoryUsage(lockKey))];
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    await db.query('VACUUM ANALYZE orders');
    const { rows } = await db.query<{
      n: string;
      heap: string;
      indexes: string;
      total: string;
    }>(
      `SELECT count(*) AS n, pg_relation_size('orders') AS heap, pg_indexes_size('orders') AS indexes,
              pg_total_relation_size('orders') AS total FROM orders`,
    );
    const indexes = await db.query<{ name: string; bytes: string }>(
      `SELECT indexrelid::regclass::text AS name, pg_relation_size(indexrelid) AS bytes
         FROM pg_index WHERE indrelid = 'orders'::regclass ORDER BY 1`,
    );
    await db.end();
    const n = Number(rows[0].n);
    const average = (values: number[]) =>
      Math.round(values.reduce((a, b) => a + b, 0) / values.length);
    console.log(
      `${n} orders through the API (production build): ${n - bigUsers.length * 20} of 1 item, ${bigUsers.length * 20} of 20 items`,
    );
    for (const [kind, values] of Object.entries(sizes))
      console.log(
        `Redis ${kind}: ${average(values)} bytes (MEMORY USAGE, ${values.length} keys)`,
      );
    const perOrder = (bytes: string) => (Number(bytes) / n).toFixed(0);
    console.log(
      `Postgres per order: table ${perOrder(rows[0].heap)} B, indexes ${perOrder(rows[0].indexes)} B, ` +
        `total with TOAST ${perOrder(rows[0].total)} B`,
    );
    for (const index of indexes.rows)
      console.log(`  ${index.name}: ${perOrder(index.bytes)} B per order`);
    const day = 100 * 86_400;
    console.log(
      `A day at 100 orders/s (${day.toLocaleString('en')} stored responses alive at the 24 h TTL): ` +
        `${((day * average(sizes['stored response'])) / 2 ** 30).toFixed(2)} GiB of Redis`,
    );
  } finally {
    await app.stop();
    await redis.flushDb();
    await redis.quit();
    await database.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
