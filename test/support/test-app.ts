import { ModuleMetadata } from '@nestjs/common';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test, TestingModuleBuilder } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import {
  EntryCodec,
  type IdempotencyEntry,
  storageKeyFor,
} from '../../src/idempotency';
import { SAMPLE_CREATED_ORDER } from '../../src/orders/dto/order.view';
import { sign } from 'jsonwebtoken';
import { AppModule } from '../../src/app.module';
import {
  APP_OPTIONS,
  configureApp,
  createFastifyAdapter,
} from '../../src/app.setup';
import { readTrustProxy } from '../../src/config/app.config';
import { AdminServer } from '../../src/observability/admin-server';
import { DataSource } from 'typeorm';
import { RESP_TYPES } from 'redis';
import { TEST_JWT_SECRET } from './test-env';

export interface TestApp {
  app: NestFastifyApplication;
  url: string;
  /** The admin port (GET /metrics), on a free port of its own. */
  adminUrl: string;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Environment for this app only (read while its modules initialise). */
  env?: Record<string, string>;
  /** Test seams: replace providers (e.g. hold a request in flight). */
  override?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
  imports?: ModuleMetadata['imports'];
}

/** The real app (same configureApp as main.ts) listening on an ephemeral 127.0.0.1 port. */
export async function createTestApp(
  options: TestAppOptions = {},
): Promise<TestApp> {
  const saved = { ...process.env };
  Object.assign(process.env, options.env ?? {});
  try {
    const builder = Test.createTestingModule({
      imports: [AppModule, ...(options.imports ?? [])],
    });
    const moduleRef = await (options.override?.(builder) ?? builder).compile();
    const app = await configureApp(
      moduleRef.createNestApplication<NestFastifyApplication>(
        createFastifyAdapter(readTrustProxy()),
        APP_OPTIONS,
      ),
    );
    app.useLogger(['error']);
    await app.listen(0, '127.0.0.1');
    const url = await app.getUrl();
    const adminUrl = await app.get(AdminServer).listen(0, '127.0.0.1');
    return {
      app,
      url: url.replace('[::1]', '127.0.0.1'),
      adminUrl,
      close: () => app.close(),
    };
  } finally {
    process.env = saved;
  }
}

/**
 * The app on a migrated database of a Postgres the test owns (support/postgres-cluster.ts), with
 * readiness probed afresh at every call: those tests watch it change as the database does.
 */
export function createTestAppOn(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<TestApp> {
  return createTestApp({
    env: {
      DATABASE_URL: databaseUrl,
      DB_MIGRATIONS_RUN: 'false',
      HEALTH_CACHE_MS: '0',
      ...env,
    },
  });
}

/** A fresh user per test keeps tests independent on a shared database and Redis. */
export function newUser(): string {
  return `user-${randomUUID()}`;
}

export function tokenFor(
  userId: string,
  options: { expiresIn?: number; secret?: string } = {},
): string {
  return sign({ sub: userId }, options.secret ?? TEST_JWT_SECRET, {
    algorithm: 'HS256',
    expiresIn: options.expiresIn ?? 600,
  });
}

export const validOrder = () => ({
  currency: 'USD',
  items: [{ sku: 'ABC-1', quantity: 2, unitPriceCents: 1999 }],
  note: 'leave at the door',
});

export interface Sent {
  status: number;
  headers: Headers;
  body: any;
}

/** One HTTP request to the app; JSON in, JSON (or text) out. */
export async function send(
  base: string,
  method: string,
  path: string,
  options: {
    token?: string;
    key?: string;
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Sent> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.key !== undefined) headers['idempotency-key'] = options.key;
  let payload: string | undefined = options.rawBody;
  if (options.body !== undefined) payload = JSON.stringify(options.body);
  if (
    payload !== undefined &&
    !Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')
  ) {
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: payload,
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON: keep the text */
  }
  return { status: response.status, headers: response.headers, body };
}

/** POST /orders with a key and (by default) a valid body. */
export function createOrder(
  t: Pick<TestApp, 'url'>,
  token: string,
  key: string,
  body: unknown = validOrder(),
): Promise<Sent> {
  return send(t.url, 'POST', '/orders', { token, key, body });
}

/** Rows in the orders table for one user: the ground truth for "no duplicate order". */
export async function countOrders(t: TestApp, userId: string): Promise<number> {
  const rows: { n: number }[] = await t.app
    .get(DataSource)
    .query('SELECT count(*)::int AS n FROM orders WHERE user_id = $1', [
      userId,
    ]);
  return rows[0].n;
}

/** The route a create's key belongs to, with its user. */
export const CREATE_ROUTE = 'POST /orders';

/** Where the app keeps a key's lock or response in Redis (the library's own key function). */
export function idempotencyRedisKey(
  userId: string,
  key: string,
  route = CREATE_ROUTE,
): string {
  return storageKeyFor(userId, key, undefined, route);
}

/** The app's entry codec: the one its Redis storage writes and reads with. */
export const appEntryCodec = new EntryCodec(SAMPLE_CREATED_ORDER);

/** What Redis holds for a key (lock or response), decoded as the app decodes it; null if nothing. */
export async function readIdempotencyEntry(
  redis: {
    sendCommand(
      args: string[],
      options?: { typeMapping?: object },
    ): Promise<unknown>;
  },
  userId: string,
  key: string,
): Promise<IdempotencyEntry | null> {
  const stored = await redis.sendCommand(
    ['GET', idempotencyRedisKey(userId, key)],
    { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } },
  );
  return stored === null ? null : appEntryCodec.decode(stored as Buffer);
}

/** A same-key burst's verdict: only 201s carrying one order's id, and 409s. */
export function expectOneOrderFrom(answers: Sent[]): void {
  expect(answers.every((a) => a.status === 201 || a.status === 409)).toBe(true);
  expect(
    new Set(answers.filter((a) => a.status === 201).map((a) => a.body.id)).size,
  ).toBe(1);
}

/**
 * A retry as a client makes it: a 409 in flight is waited out (its Retry-After) and sent again, at most
 * `attempts` times. After a Redis stall or timeout, a claim the app had given up on can still land in
 * Redis late and hold its key until its lease runs out; a client then waits, and so does a test.
 */
export async function retryWhileInFlight(
  attempt: () => Promise<Sent>,
  attempts = 5,
): Promise<Sent> {
  for (let n = 1; ; n++) {
    const answer = await attempt();
    if (answer.status !== 409 || n === attempts) return answer;
    const seconds = Number(answer.headers.get('retry-after') ?? 1);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
}
