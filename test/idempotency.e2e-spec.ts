import { Injectable } from '@nestjs/common';
import { createClient, RESP_TYPES } from 'redis';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { CreateOrderDto } from '../src/orders/dto/create-order.dto';
import { OrdersService } from '../src/orders/orders.service';
import type { OrderRevision } from '../src/orders/orders.sql';
import {
  EntryCodec,
  type CompletedEntry,
  type IdempotencyContext,
} from '../src/idempotency';
import { SAMPLE_CREATED_ORDER } from '../src/orders/dto/order.view';
import { TcpProxy } from './support/tcp-proxy';
import {
  createTestApp,
  newUser,
  TestApp,
  tokenFor,
  validOrder,
  createOrder,
  countOrders as countOrdersOf,
  idempotencyRedisKey,
  readIdempotencyEntry,
  retryWhileInFlight,
} from './support/test-app';
import { Gate } from './support/gate';
import { testRedisUrl } from './support/test-env';

const creates = new Gate();

/** Test seam: holds a create in flight while the test looks at it. */
@Injectable()
class HeldOrdersService extends OrdersService {
  override async create(
    userId: string,
    dto: CreateOrderDto,
    idem: IdempotencyContext,
  ): Promise<OrderRevision> {
    await creates.pass();
    return super.create(userId, dto, idem);
  }
}

const redisKey = idempotencyRedisKey;

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
    const stored = await readIdempotencyEntry(redis, user, 'fast-1');
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
    const holding = creates.holdNext();
    const first = create(token, 'held-1');
    const release = await holding;
    const duplicate = await create(token, 'held-1');
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.code).toBe('IDEMPOTENCY_REQUEST_IN_PROGRESS');
    // The owner is alive and renewing: the answer may be ready any moment.
    expect(duplicate.headers.get('retry-after')).toBe('1');
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

  it("answers Retry-After with the rest of the lease when the lock's owner has stopped renewing", async () => {
    const user = newUser();
    const token = tokenFor(user);
    const holding = creates.holdNext();
    const first = create(token, 'live-owner');
    const release = await holding;
    // An orphan: the live lock's entry (same fingerprint) under another key, which no one renews,
    // with 1.4 s of its lease left (below a third of the 5 s lease: its owner missed two renewals).
    const lock = (await redis.get(redisKey(user, 'live-owner')))!;
    await redis.set(redisKey(user, 'dead-owner'), lock, { PX: 1400 });
    const duplicate = await create(token, 'dead-owner');
    expect(duplicate.status).toBe(409);
    expect(duplicate.headers.get('retry-after')).toBe('2');
    release();
    expect((await first).status).toBe(201);
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
    // Every 409 is told the shortest honest wait: the owner is alive, so one second.
    const waits = responses
      .filter((r) => r.status === 409)
      .map((r) => r.headers.get('retry-after'));
    expect(waits.every((wait) => wait === '1')).toBe(true);
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
    expect(await readIdempotencyEntry(redis, user, 'evicted-1')).toMatchObject({
      state: 'completed',
    });
  });

  const misread = { id: 'not-this-order', misread: true };
  it.each([
    [
      'JSON of another format version (a newer build in a rolling deploy)',
      (stored: CompletedEntry) =>
        JSON.stringify({ v: 99, ...stored, body: misread }),
    ],
    [
      'JSON without a format version (an older build)',
      (stored: CompletedEntry) => JSON.stringify({ ...stored, body: misread }),
    ],
    [
      'a response compressed against another sample (a deploy that changed it)',
      (stored: CompletedEntry) =>
        new EntryCodec({
          ...SAMPLE_CREATED_ORDER,
          body: { ...SAMPLE_CREATED_ORDER.body, currency: 'EUR' },
        }).encodeResponse({ ...stored, body: misread }),
    ],
  ])(
    'treats a Redis entry of %s as a miss: the database decides, nothing is misread',
    async (_, foreign) => {
      const user = newUser();
      const token = tokenFor(user);
      const first = await create(token, 'versioned');
      const stored = await readIdempotencyEntry(redis, user, 'versioned');
      expect(stored).toMatchObject({ state: 'completed', body: first.body });
      // The same entry, but written by a build whose format this one does not know.
      await redis.set(
        redisKey(user, 'versioned'),
        foreign(stored as CompletedEntry),
        { PX: 60_000 },
      );
      const retry = await create(token, 'versioned');
      expect(retry.status).toBe(201);
      expect(retry.body).toEqual(first.body);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      const fresh = await create(token, 'versioned-fresh');
      expect(fresh.status).toBe(201);
      expect(await countOrders(user)).toBe(2);
    },
  );

  describe('with IDEMPOTENCY_COMPRESS_RESPONSES=false on another instance', () => {
    let jsonApp: TestApp;
    beforeAll(async () => {
      jsonApp = await createTestApp({
        env: { IDEMPOTENCY_COMPRESS_RESPONSES: 'false' },
      });
    });
    afterAll(() => jsonApp.close());

    const storedBytes = (user: string, key: string) =>
      redis.sendCommand<Buffer>(['GET', redisKey(user, key)], {
        typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer },
      });

    it("stores JSON text, and each build replays the other's entries from Redis, so a rolling deploy can switch it", async () => {
      const user = newUser();
      const token = tokenFor(user);
      const byJson = await createOrder(jsonApp, token, 'json-entry');
      const byCompressing = await create(token, 'compressed-entry');
      expect(byJson.status).toBe(201);
      expect(byCompressing.status).toBe(201);

      const json = await storedBytes(user, 'json-entry');
      const compressed = await storedBytes(user, 'compressed-entry');
      expect(JSON.parse(json.toString())).toMatchObject({
        v: 1,
        state: 'completed',
        status: 201,
        body: byJson.body,
      });
      expect(compressed[0]).toBe(2);
      expect(compressed.length).toBeLessThan(json.length);

      // Change both rows behind Redis's back: a replay still showing the stored body came from Redis.
      await db.query(
        `UPDATE orders SET note = 'changed' WHERE id = ANY($1::uuid[])`,
        [[byJson.body.id, byCompressing.body.id]],
      );
      const replays = [
        [await create(token, 'json-entry'), byJson],
        [await createOrder(jsonApp, token, 'compressed-entry'), byCompressing],
      ] as const;
      for (const [replay, original] of replays) {
        expect(replay.status).toBe(201);
        expect(replay.headers.get('idempotent-replayed')).toBe('true');
        expect(replay.body).toEqual(original.body);
      }
      expect(await countOrders(user)).toBe(2);
    });
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
    expect(await fastPathResumes(user, token, 'after-cut')).toBe(true);
  });

  it.each(['cut', 'stall'] as const)(
    'Redis %s in the middle of a burst: no duplicate, no 5xx, latency bounded by the command timeout, fast path back',
    async (fault) => {
      const user = newUser();
      const token = tokenFor(user);
      const keys = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
      const timed = async (key: string) => {
        const started = Date.now();
        const response = await create(token, key);
        return { key, response, ms: Date.now() - started };
      };
      const first = await Promise.all(keys.map(timed));
      const idOf = new Map(first.map((r) => [r.key, r.response.body.id]));

      // Retries of the 20 plus 10 new keys, staggered; the fault hits while they are under way.
      const newKeys = Array.from({ length: 10 }, (_, i) => `burst-new-${i}`);
      const burst = Promise.all(
        [...keys, ...newKeys].map(async (key, i) => {
          await sleep(i * 5);
          return timed(key);
        }),
      );
      await sleep(40);
      if (fault === 'cut') proxy.cut();
      else proxy.stall();
      const during = await burst;
      // The fault was real: some of the new keys' responses never reached Redis.
      const unstored = await Promise.all(
        newKeys.map((key) => direct.exists(redisKey(user, key))),
      );
      expect(unstored).toContain(0);
      proxy.restore();

      for (const { key, response, ms } of [...first, ...during]) {
        expect(response.status).toBe(201);
        if (idOf.has(key)) expect(response.body.id).toBe(idOf.get(key));
        // Two bounded Redis calls (claim, then complete) at 200 ms each, plus generous slack.
        expect(ms).toBeLessThan(2 * 200 + 3000);
      }
      expect(await countOrders(user)).toBe(30);
      // Every key, new or old, still answers with its one order after the fault (a claim the stall
      // delivered late is waited out, as a client would).
      for (const key of [...keys, ...newKeys]) {
        const retry = await retryWhileInFlight(() => create(token, key));
        expect(retry.status).toBe(201);
        expect(retry.headers.get('idempotent-replayed')).toBe('true');
      }
      expect(await countOrders(user)).toBe(30);
      expect(await fastPathResumes(user, token, `after-${fault}`)).toBe(true);
    },
  );

  /** The client reconnects in the background; the fast path comes back without a restart. */
  async function fastPathResumes(
    user: string,
    token: string,
    prefix: string,
  ): Promise<boolean> {
    const deadline = Date.now() + 10_000;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      await create(token, `${prefix}-${attempt}`);
      if ((await direct.exists(redisKey(user, `${prefix}-${attempt}`))) === 1)
        return true;
      await sleep(200);
    }
    return false;
  }
});

describe('A request still running past IDEMPOTENCY_LOCK_TTL_MS (late finisher)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      env: {
        IDEMPOTENCY_LOCK_TTL_MS: '1000',
        IDEMPOTENCY_LOCK_LEASE_MS: '300',
      },
      override: (b) =>
        b.overrideProvider(OrdersService).useClass(HeldOrdersService),
    });
  });
  afterAll(() => t.close());

  it('lets a retry run, keeps one order, and can neither overwrite the stored response nor release the retry lock', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const create = () => createOrder(t, token, 'late');

    const enteredLate = creates.holdNext();
    const pendingLate = create();
    const releaseLate = await enteredLate;
    await sleep(1300); // the late request's lock reached its TTL and lapsed

    const enteredRetry = creates.holdNext();
    const pendingRetry = create();
    const releaseRetry = await enteredRetry; // the retry claimed the key
    expect((await create()).status).toBe(409);

    releaseLate();
    const late = await pendingLate;
    expect(late.status).toBe(201); // its INSERT came first: it made the order
    // Its compare-and-set failed: the retry's lock is still there.
    expect((await create()).status).toBe(409);

    releaseRetry();
    const retry = await pendingRetry;
    expect(retry.status).toBe(201);
    expect(retry.body.id).toBe(late.body.id); // resolved by the unique index
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    const replay = await create();
    expect(replay.body.id).toBe(late.body.id);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await countOrdersOf(t, user)).toBe(1);
  });
});

describe('Redis flushed (restarted without persistence)', () => {
  // A database of its own, so that flushing it cannot disturb the other suites.
  const url = new URL(testRedisUrl(2));
  const direct = createClient({ url: url.toString() });
  let t: TestApp;
  beforeAll(async () => {
    await direct.connect();
    t = await createTestApp({ env: { REDIS_URL: url.toString() } });
  });
  afterAll(async () => {
    await t.close();
    await direct.quit();
  });

  it('replays every retry from Postgres: 201, the same order, the replay header', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const keys = Array.from({ length: 5 }, (_, i) => `flush-${i}`);
    const created = await Promise.all(
      keys.map((key) => createOrder(t, token, key)),
    );
    expect(await direct.exists(redisKey(user, 'flush-0'))).toBe(1);
    await direct.flushDb();
    const retries = await Promise.all(
      keys.map((key) => createOrder(t, token, key)),
    );
    retries.forEach((retry, i) => {
      expect(retry.status).toBe(201);
      expect(retry.body.id).toBe(created[i].body.id);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
    });
    expect(await countOrdersOf(t, user)).toBe(5);
  });
});
