import { Injectable } from '@nestjs/common';
import { createClient } from '@keyv/redis';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { CreateOrderDto } from '../src/orders/dto/create-order.dto';
import { CreateOrderResult, OrdersService } from '../src/orders/orders.service';
import type { IdempotencyContext } from '../src/idempotency';
import { TcpProxy } from './support/tcp-proxy';
import {
  createTestApp,
  newUser,
  TestApp,
  tokenFor,
  validOrder,
  createOrder,
  countOrders as countOrdersOf,
} from './support/test-app';

/** Test seam: holds a create in flight until the test lets it go (no sleeps, no races). */
@Injectable()
class HeldOrdersService extends OrdersService {
  static held?: { entered: () => void; release: Promise<void> };

  override async create(
    userId: string,
    dto: CreateOrderDto,
    idem: IdempotencyContext,
  ): Promise<CreateOrderResult> {
    const held = HeldOrdersService.held;
    if (held) {
      HeldOrdersService.held = undefined;
      held.entered();
      await held.release;
    }
    return super.create(userId, dto, idem);
  }

  /** Resolves once the next create is inside the service; call the returned function to let it finish. */
  static holdNext(): Promise<() => void> {
    let release!: () => void;
    const releasePromise = new Promise<void>((resolve) => (release = resolve));
    return new Promise((resolve) => {
      HeldOrdersService.held = {
        entered: () => resolve(release),
        release: releasePromise,
      };
    });
  }
}

const redisKey = (userId: string, key: string) =>
  `idem:${encodeURIComponent(userId)}:${createHash('sha256').update(key).digest('hex')}`;

describe('Idempotency over HTTP with real Postgres and Redis', () => {
  const redis = createClient({ url: process.env.REDIS_URL });
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    await redis.connect();
    t = await createTestApp({
      override: (b) =>
        b.overrideProvider(OrdersService).useClass(HeldOrdersService),
    });
    db = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t.close();
    await redis.quit();
  });

  const countOrders = (userId: string) => countOrdersOf(t, userId);
  const create = (token: string, key: string, body?: unknown) =>
    createOrder(t, token, key, body);

  it('stores the completed response in Redis under a namespaced, hashed key and replays it from there', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const first = await create(token, 'fast-1');
    const stored = JSON.parse((await redis.get(redisKey(user, 'fast-1')))!);
    expect(stored).toMatchObject({
      state: 'completed',
      status: 201,
      body: first.body,
      headers: { location: `/orders/${first.body.id}` },
    });
    expect(await redis.pTTL(redisKey(user, 'fast-1'))).toBeGreaterThan(
      86_000_000,
    );
    // Prove the replay comes from Redis: change the row behind its back; the replay still shows the stored body.
    await db.query(`UPDATE orders SET note = 'changed' WHERE id = $1`, [
      first.body.id,
    ]);
    const replay = await create(token, 'fast-1');
    expect(replay.body.note).toBe(first.body.note);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
  });

  it('answers 409 with Retry-After while the first request is held in flight, then replays it', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const holding = HeldOrdersService.holdNext();
    const first = create(token, 'held-1');
    const release = await holding;
    const duplicate = await create(token, 'held-1');
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.code).toBe('IDEMPOTENCY_REQUEST_IN_PROGRESS');
    expect(Number(duplicate.headers.get('retry-after'))).toBeGreaterThanOrEqual(
      1,
    );
    const otherBody = await create(token, 'held-1', {
      ...validOrder(),
      currency: 'EUR',
    });
    expect(otherBody.status).toBe(422);
    release();
    const created = await first;
    expect(created.status).toBe(201);
    const retry = await create(token, 'held-1');
    expect(retry.status).toBe(201);
    expect(retry.body.id).toBe(created.body.id);
    expect(await countOrders(user)).toBe(1);
  });

  it('answers 30 parallel same-key requests with one order: only 201s carrying its id and 409s', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const responses = await Promise.all(
      Array.from({ length: 30 }, () => create(token, 'burst-30')),
    );
    const statuses = new Set(responses.map((r) => r.status));
    expect([...statuses].every((s) => s === 201 || s === 409)).toBe(true);
    const ids = new Set(
      responses.filter((r) => r.status === 201).map((r) => r.body.id),
    );
    expect(ids.size).toBe(1);
    expect(await countOrders(user)).toBe(1);
  });

  it('falls back to Postgres when the Redis entry is gone: same order, 201, replay header', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const first = await create(token, 'evicted-1');
    await redis.del(redisKey(user, 'evicted-1'));
    const retry = await create(token, 'evicted-1');
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get('location')).toBe(first.headers.get('location'));
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await countOrders(user)).toBe(1);
    // ... and the fast path is repopulated by that retry.
    expect(
      JSON.parse((await redis.get(redisKey(user, 'evicted-1')))!).state,
    ).toBe('completed');
  });

  it('lets the database refuse a reused key when Redis no longer remembers it (422)', async () => {
    const user = newUser();
    const token = tokenFor(user);
    await create(token, 'evicted-2');
    await redis.del(redisKey(user, 'evicted-2'));
    const reused = await create(token, 'evicted-2', {
      ...validOrder(),
      currency: 'EUR',
    });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await redis.exists(redisKey(user, 'evicted-2'))).toBe(0);
  });
});

describe('Idempotency when Redis is unavailable', () => {
  const direct = createClient({ url: process.env.REDIS_URL });
  let proxy: TcpProxy;
  let t: TestApp;

  beforeAll(async () => {
    await direct.connect();
    proxy = await TcpProxy.start(process.env.REDIS_URL!);
    t = await createTestApp({
      env: {
        REDIS_URL: proxy.urlFor(process.env.REDIS_URL!),
        REDIS_COMMAND_TIMEOUT_MS: '200',
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await proxy.close();
    await direct.quit();
  });

  const countOrders = (userId: string) => countOrdersOf(t, userId);
  const create = (token: string, key: string) => createOrder(t, token, key);

  it('keeps creating orders without duplicates while Redis is cut, and resumes the fast path when it returns', async () => {
    const user = newUser();
    const token = tokenFor(user);
    expect((await create(token, 'before-cut')).status).toBe(201);
    expect(await direct.exists(redisKey(user, 'before-cut'))).toBe(1);

    proxy.cut();
    const during = await create(token, 'during-cut');
    expect(during.status).toBe(201);
    const retries = await Promise.all([
      create(token, 'during-cut'),
      create(token, 'during-cut'),
      create(token, 'before-cut'),
    ]);
    for (const retry of retries) {
      expect(retry.status).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
    }
    expect(retries[0].body.id).toBe(during.body.id);
    expect(await countOrders(user)).toBe(2);
    expect(await direct.exists(redisKey(user, 'during-cut'))).toBe(0);

    proxy.restore();
    // The client reconnects in the background; the fast path comes back without a restart.
    const deadline = Date.now() + 10_000;
    let resumed = false;
    for (let attempt = 0; !resumed && Date.now() < deadline; attempt++) {
      await create(token, `after-cut-${attempt}`);
      resumed =
        (await direct.exists(redisKey(user, `after-cut-${attempt}`))) === 1;
      if (!resumed) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(resumed).toBe(true);
  });
});
