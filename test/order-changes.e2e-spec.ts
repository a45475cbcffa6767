import { Injectable } from '@nestjs/common';
import { createClient } from 'redis';
import { DataSource } from 'typeorm';
import type { IdempotencyContext } from '../src/idempotency';
import type { UpdateOrderDto } from '../src/orders/dto/update-order.dto';
import type { EntityTag } from '../src/common/entity-tags';
import { OrderChangesService } from '../src/orders/order-changes.service';
import type { OrderRevision } from '../src/orders/orders.sql';
import {
  createOrder,
  createTestApp,
  idempotencyRedisKey,
  newUser,
  send,
  type Sent,
  TestApp,
  tokenFor,
  validOrder,
} from './support/test-app';
import { Gate } from './support/gate';
import { deliver, paymentEvent } from './support/webhooks';

const changes = new Gate();

/** Test seam: holds a change in flight while the test looks at it. */
@Injectable()
class HeldOrderChangesService extends OrderChangesService {
  override async update(
    userId: string,
    id: string,
    patch: UpdateOrderDto,
    ifMatch: EntityTag[],
    idempotency?: IdempotencyContext,
  ): Promise<OrderRevision> {
    await changes.pass();
    return super.update(userId, id, patch, ifMatch, idempotency);
  }
}

const MERGE_PATCH = 'application/merge-patch+json';

describe('Changing an order: PATCH with merge patches, ETags and If-Match, keys, metadata', () => {
  const redis = createClient({ url: process.env.REDIS_URL });
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    await redis.connect();
    t = await createTestApp({
      override: (b) =>
        b
          .overrideProvider(OrderChangesService)
          .useClass(HeldOrderChangesService),
    });
    db = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t.close();
    await redis.quit();
  });

  interface PatchOptions {
    ifMatch?: string;
    key?: string;
    contentType?: string;
  }

  function patch(
    token: string,
    id: string,
    body: unknown,
    options: PatchOptions = {},
  ): Promise<Sent> {
    const headers: Record<string, string> = {
      'content-type': options.contentType ?? MERGE_PATCH,
    };
    if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
    return send(t.url, 'PATCH', `/orders/${id}`, {
      token,
      key: options.key,
      rawBody: typeof body === 'string' ? body : JSON.stringify(body),
      headers,
    });
  }

  const read = (token: string, id: string, headers?: Record<string, string>) =>
    send(t.url, 'GET', `/orders/${id}`, { token, headers });

  /** A new user with one order, and what they need to change it. */
  async function anOrder(body: Record<string, unknown> = validOrder()) {
    const user = newUser();
    const token = tokenFor(user);
    const created = await createOrder(t, token, `create-${user}`, body);
    expect(created.status).toBe(201);
    return { user, token, id: created.body.id as string, created };
  }

  async function version(id: string): Promise<number> {
    const [row] = await db.query<{ version: number }[]>(
      'SELECT version FROM orders WHERE id = $1',
      [id],
    );
    return row.version;
  }

  describe('ETags', () => {
    it('sends a strong ETag with every answer about one order, and 304 with no body for If-None-Match', async () => {
      const { token, id, created } = await anOrder();
      expect(created.headers.get('etag')).toBe('"1"');
      const got = await read(token, id);
      expect(got.status).toBe(200);
      expect(got.headers.get('etag')).toBe('"1"');
      for (const ifNoneMatch of ['"1"', 'W/"1"', '"7", "1"', '*']) {
        const revalidated = await read(token, id, {
          'if-none-match': ifNoneMatch,
        });
        expect(revalidated.status).toBe(304);
        expect(revalidated.body ?? '').toBe('');
        expect(revalidated.headers.get('etag')).toBe('"1"');
      }
      const stale = await read(token, id, { 'if-none-match': '"0"' });
      expect(stale.status).toBe(200);
      expect(stale.body.id).toBe(id);
      const garbage = await read(token, id, { 'if-none-match': 'one' });
      expect(garbage.status).toBe(400);
      expect(garbage.body.error.code).toBe('INVALID_PRECONDITION');
    });

    it('changes the ETag with every change: PATCH, cancel and payment; a replayed create sends the first one', async () => {
      const { token, id } = await anOrder();
      const changed = await patch(
        token,
        id,
        { note: 'n2' },
        { ifMatch: '"1"' },
      );
      expect(changed.headers.get('etag')).toBe('"2"');
      const paid = await deliver(t.url, paymentEvent(id));
      expect(paid.body.outcome).toBe('paid');
      expect((await read(token, id)).headers.get('etag')).toBe('"3"');

      const other = await anOrder();
      const cancelled = await send(t.url, 'DELETE', `/orders/${other.id}`, {
        token: other.token,
      });
      expect(cancelled.headers.get('etag')).toBe('"2"');
      // Cancelling again changes nothing, so the version stays.
      const again = await send(t.url, 'DELETE', `/orders/${other.id}`, {
        token: other.token,
      });
      expect(again.headers.get('etag')).toBe('"2"');
      const replay = await createOrder(
        t,
        other.token,
        `create-${other.user}`,
        validOrder(),
      );
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.headers.get('etag')).toBe('"1"');
    });
  });

  describe('PATCH', () => {
    it('applies a merge patch: a member sets, null deletes, an absent member stays; the ETag moves on', async () => {
      const { token, id } = await anOrder({
        ...validOrder(),
        metadata: { crmId: 'C-1', channel: 'web' },
      });
      const changed = await patch(
        token,
        id,
        { note: null, metadata: { channel: null, campaign: 'x-mas' } },
        { ifMatch: '"1"' },
      );
      expect(changed.status).toBe(200);
      expect(changed.headers.get('etag')).toBe('"2"');
      expect(changed.body).toMatchObject({
        id,
        note: null,
        metadata: { crmId: 'C-1', campaign: 'x-mas' },
      });
      expect(changed.body.metadata).not.toHaveProperty('channel');
      const got = await read(token, id);
      expect(got.body).toEqual(changed.body);
      // Plain JSON is accepted too; "metadata": null deletes every key.
      const cleared = await patch(
        token,
        id,
        { metadata: null },
        { ifMatch: '"2"', contentType: 'application/json' },
      );
      expect(cleared.status).toBe(200);
      expect(cleared.body.metadata).toEqual({});
      expect(cleared.body.note).toBeNull();
      expect(cleared.headers.get('etag')).toBe('"3"');
    });

    it('keeps metadata keys named like Object.prototype members, on create and on patch, or refuses them (never drops one)', async () => {
      const names = Object.getOwnPropertyNames(Object.prototype);
      const allowed = names.filter((name) =>
        /^[A-Za-z0-9_.-]{1,40}$/.test(name),
      );
      expect(allowed).toEqual(
        expect.arrayContaining([
          'constructor',
          'toString',
          'valueOf',
          'hasOwnProperty',
        ]),
      );
      // "__proto__" is refused by the JSON parser (a prototype-poisoning guard), "constructor" and
      // "prototype" by the validation pipe: 400, never dropped. Every other name is kept.
      const reserved = ['__proto__', 'constructor', 'prototype'];
      const metadata = Object.fromEntries(
        allowed
          .filter((name) => !reserved.includes(name))
          .map((name) => [name, `v-${name}`]),
      );
      const { token, id, created } = await anOrder({
        ...validOrder(),
        metadata,
      });
      expect(created.body.metadata).toEqual(metadata);
      expect((await read(token, id)).body.metadata).toEqual(metadata);
      const changed = await patch(
        token,
        id,
        { metadata: { toString: null, valueOf: 'changed' } },
        { ifMatch: '"1"' },
      );
      expect(changed.status).toBe(200);
      const expected = Object.fromEntries(
        Object.entries({ ...metadata, valueOf: 'changed' }).filter(
          ([name]) => name !== 'toString',
        ),
      );
      expect(changed.body.metadata).toEqual(expected);
      const poisoned = await send(t.url, 'POST', '/orders', {
        token,
        key: `proto-${id}`,
        rawBody:
          '{"currency":"USD","items":[{"sku":"A","quantity":1,"unitPriceCents":1}],"metadata":{"__proto__":"x"}}',
      });
      expect(poisoned.status).toBe(400);
      for (const name of ['constructor', 'prototype']) {
        const refused = await send(t.url, 'POST', '/orders', {
          token,
          key: `${name}-${id}`,
          body: { ...validOrder(), metadata: { [name]: 'x', kept: 'y' } },
        });
        expect(refused.status).toBe(400);
        expect(refused.body.error).toMatchObject({
          code: 'VALIDATION_FAILED',
          details: [
            {
              field: `metadata.${name}`,
              message: expect.stringContaining('reserved'),
            },
          ],
        });
        const refusedPatch = await patch(
          token,
          id,
          { metadata: { [name]: 'x' } },
          { ifMatch: '"2"' },
        );
        expect(refusedPatch.status).toBe(400);
      }
    });

    it('keeps a key to its route in Redis as in Postgres: a create key reused on a PATCH answers the same with and without the Redis entries', async () => {
      const sequence = async (forgetRedis: boolean) => {
        const user = newUser();
        const token = tokenFor(user);
        const key = `shared-${user}`;
        const forget = async () => {
          if (!forgetRedis) return;
          await redis.del([
            idempotencyRedisKey(user, key),
            idempotencyRedisKey(user, key, 'PATCH /orders/:id'),
          ]);
        };
        const created = await createOrder(t, token, key, validOrder());
        const id = created.body.id as string;
        await forget();
        // The same key on another route: another key, applied (the database keeps PATCH keys in
        // order_changes and create keys in orders; Redis scopes them by route as well).
        const changed = await patch(
          token,
          id,
          { note: 'changed' },
          { ifMatch: '"1"', key },
        );
        await forget();
        const retriedCreate = await createOrder(t, token, key, validOrder());
        await forget();
        const retriedPatch = await patch(
          token,
          id,
          { note: 'changed' },
          { ifMatch: '"1"', key },
        );
        return [created, changed, retriedCreate, retriedPatch].map((answer) => [
          answer.status,
          answer.headers.get('idempotent-replayed'),
          (answer.body as { id?: string }).id === id,
        ]);
      };
      const withRedis = await sequence(false);
      expect(withRedis).toEqual([
        [201, null, true],
        [200, null, true],
        [201, 'true', true],
        [200, 'true', true],
      ]);
      expect(await sequence(true)).toEqual(withRedis);
    });

    it('answers a patch that changes nothing with the order as it is, ETag unchanged', async () => {
      const { token, id } = await anOrder();
      const same = await patch(
        token,
        id,
        { note: 'leave at the door', metadata: { gone: null } },
        { ifMatch: '"1"' },
      );
      expect(same.status).toBe(200);
      expect(same.headers.get('etag')).toBe('"1"');
      expect(await version(id)).toBe(1);
      const empty = await patch(token, id, {}, { ifMatch: '"1"' });
      expect(empty.status).toBe(200);
      expect(empty.headers.get('etag')).toBe('"1"');
    });

    it('requires If-Match (428), refuses a stale or weak one (412 with the current ETag and nothing else) and garbage (400)', async () => {
      const { token, id } = await anOrder();
      const body = { note: 'changed' };
      const missing = await patch(token, id, body);
      expect(missing.status).toBe(428);
      expect(missing.body.error.code).toBe('PRECONDITION_REQUIRED');
      const star = await patch(token, id, body, { ifMatch: '*' });
      expect(star.status).toBe(428);
      expect(star.body.error.code).toBe('PRECONDITION_REQUIRED');
      for (const ifMatch of ['"2"', 'W/"1"', '"abc"', '"01"']) {
        const stale = await patch(token, id, body, { ifMatch });
        expect(stale.status).toBe(412);
        expect(stale.headers.get('etag')).toBe('"1"');
        expect(Object.keys(stale.body as object)).toEqual(['error']);
        expect(Object.keys(stale.body.error as object).sort()).toEqual([
          'code',
          'message',
        ]);
        expect(stale.body.error.code).toBe('PRECONDITION_FAILED');
        expect(stale.body.error.message).not.toContain('leave at the door');
      }
      for (const ifMatch of ['1', '"1', '"1" "2"', 'W/1', '', '"1",,x']) {
        const bad = await patch(token, id, body, { ifMatch });
        expect([ifMatch, bad.status]).toEqual([ifMatch, 400]);
        expect(bad.body.error.code).toBe('INVALID_PRECONDITION');
      }
      // A list matches when one of its tags does.
      const listed = await patch(token, id, body, { ifMatch: '"9", "1"' });
      expect(listed.status).toBe(200);
      expect(listed.body.note).toBe('changed');
    });

    it('refuses every bad patch in the envelope and changes nothing', async () => {
      const { token, id } = await anOrder();
      const tooMany = Object.fromEntries(
        Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']),
      );
      const cases: [unknown, number, string, string?][] = [
        [{ status: 'paid' }, 400, 'VALIDATION_FAILED', 'status'],
        [{ items: [] }, 400, 'VALIDATION_FAILED', 'items'],
        [{ id: 'x' }, 400, 'VALIDATION_FAILED', 'id'],
        [{ totalCents: 1 }, 400, 'VALIDATION_FAILED', 'totalCents'],
        [{ metadata: tooMany }, 400, 'VALIDATION_FAILED', 'metadata'],
        [
          { metadata: { ['k'.repeat(41)]: 'v' } },
          400,
          'VALIDATION_FAILED',
          'metadata',
        ],
        [
          { metadata: { 'bad key': 'v' } },
          400,
          'VALIDATION_FAILED',
          'metadata',
        ],
        [
          { metadata: { k: 'v'.repeat(501) } },
          400,
          'VALIDATION_FAILED',
          'metadata',
        ],
        [{ metadata: { k: 1 } }, 400, 'VALIDATION_FAILED', 'metadata'],
        [
          { metadata: { k: { nested: 'v' } } },
          400,
          'VALIDATION_FAILED',
          'metadata',
        ],
        [{ metadata: ['v'] }, 400, 'VALIDATION_FAILED', 'metadata'],
        [{ note: 'n'.repeat(501) }, 400, 'VALIDATION_FAILED', 'note'],
        [{ note: 5 }, 400, 'VALIDATION_FAILED', 'note'],
        [{ whatever: 1 }, 400, 'VALIDATION_FAILED'],
        [[{ note: 'x' }], 400, 'VALIDATION_FAILED'],
        ['"a string"', 400, 'VALIDATION_FAILED'],
        ['null', 400, 'VALIDATION_FAILED'],
        ['{"note":', 400, 'INVALID_JSON'],
      ];
      for (const [body, status, code, field] of cases) {
        const refused = await patch(token, id, body, { ifMatch: '"1"' });
        expect([body, refused.status, refused.body.error?.code]).toEqual([
          body,
          status,
          code,
        ]);
        if (field)
          expect(refused.body.error.details).toEqual(
            expect.arrayContaining([expect.objectContaining({ field })]),
          );
      }
      const status = await patch(
        token,
        id,
        { status: 'paid' },
        { ifMatch: '"1"' },
      );
      expect(status.body.error.details[0].message).toContain(
        'status cannot be changed',
      );
      // Merged, the order would hold 51 keys.
      const full = Object.fromEntries(
        Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v']),
      );
      expect(
        (await patch(token, id, { metadata: full }, { ifMatch: '"1"' })).status,
      ).toBe(200);
      const oneMore = await patch(
        token,
        id,
        { metadata: { extra: 'v' } },
        { ifMatch: '"2"' },
      );
      expect(oneMore.status).toBe(400);
      expect(oneMore.body.error.details[0].field).toBe('metadata');
      expect(await version(id)).toBe(2);
      const got = await read(token, id);
      expect(got.body.note).toBe('leave at the door');
      expect(Object.keys(got.body.metadata as object)).toHaveLength(50);
      // A merge patch is a PATCH body only.
      const post = await send(t.url, 'POST', '/orders', {
        token,
        key: 'merge-post',
        rawBody: JSON.stringify(validOrder()),
        headers: { 'content-type': MERGE_PATCH },
      });
      expect(post.status).toBe(415);
      const text = await patch(token, id, 'note=x', {
        ifMatch: '"2"',
        contentType: 'text/plain',
      });
      expect(text.status).toBe(415);
    });

    it("answers 404 for another user's order and for an unknown id, whatever If-Match says", async () => {
      const { id } = await anOrder();
      const stranger = tokenFor(newUser());
      const theirs = await patch(
        stranger,
        id,
        { note: 'x' },
        { ifMatch: '"1"' },
      );
      expect(theirs.status).toBe(404);
      expect(theirs.headers.get('etag')).toBeNull();
      const unknown = await patch(
        stranger,
        '00000000-0000-4000-8000-000000000000',
        { note: 'x' },
        { ifMatch: '"1"' },
      );
      expect(unknown.status).toBe(404);
      expect(await version(id)).toBe(1);
    });

    it('keeps the note of a paid or cancelled order (409) and lets its metadata change', async () => {
      const paid = await anOrder();
      await deliver(t.url, paymentEvent(paid.id));
      const note = await patch(
        paid.token,
        paid.id,
        { note: 'x' },
        { ifMatch: '"2"' },
      );
      expect(note.status).toBe(409);
      expect(note.body.error.code).toBe('ORDER_NOTE_FROZEN');
      const metadata = await patch(
        paid.token,
        paid.id,
        { metadata: { invoice: 'INV-7' } },
        { ifMatch: '"2"' },
      );
      expect(metadata.status).toBe(200);
      expect(metadata.body).toMatchObject({
        status: 'paid',
        metadata: { invoice: 'INV-7' },
      });

      const cancelled = await anOrder();
      await send(t.url, 'DELETE', `/orders/${cancelled.id}`, {
        token: cancelled.token,
      });
      const frozen = await patch(
        cancelled.token,
        cancelled.id,
        { note: null },
        { ifMatch: '"2"' },
      );
      expect(frozen.status).toBe(409);
      const tagged = await patch(
        cancelled.token,
        cancelled.id,
        { metadata: { reason: 'duplicate cart' } },
        { ifMatch: '"2"' },
      );
      expect(tagged.status).toBe(200);
      expect(tagged.body.status).toBe('cancelled');
    });
  });

  describe('races', () => {
    it('lets exactly one of 20 parallel PATCHes with the same If-Match win; the others get 412 and change nothing', async () => {
      const { token, id } = await anOrder();
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          patch(
            token,
            id,
            { note: `writer ${i}`, metadata: { [`writer${i}`]: 'yes' } },
            { ifMatch: '"1"' },
          ),
        ),
      );
      const statuses = answers.map((answer) => answer.status).sort();
      expect(statuses).toEqual([200, ...Array<number>(19).fill(412)]);
      const winner = answers.findIndex((answer) => answer.status === 200);
      const got = await read(token, id);
      expect(got.headers.get('etag')).toBe('"2"');
      expect(got.body.note).toBe(`writer ${winner}`);
      expect(got.body.metadata).toEqual({ [`writer${winner}`]: 'yes' });
    });

    it('replays a keyed PATCH whose answer was lost, after another client changed the order, without applying it again', async () => {
      const { user, token, id } = await anOrder();
      const first = await patch(
        token,
        id,
        { metadata: { step: 'one' } },
        { ifMatch: '"1"', key: 'change-1' },
      );
      expect(first.status).toBe(200);
      expect(first.headers.get('etag')).toBe('"2"');
      // Another client changes the order meanwhile.
      const other = await patch(
        token,
        id,
        { metadata: { step: null, other: 'two' } },
        { ifMatch: '"2"' },
      );
      expect(other.status).toBe(200);
      // The retry, with the If-Match it sent the first time (stale by now): the first answer.
      const retry = await patch(
        token,
        id,
        { metadata: { step: 'one' } },
        { ifMatch: '"1"', key: 'change-1' },
      );
      expect(retry.status).toBe(200);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(retry.headers.get('etag')).toBe('"2"');
      expect(retry.body).toEqual(first.body);
      // Redis lost the entry: the database answers the same.
      await redis.del(
        idempotencyRedisKey(user, 'change-1', 'PATCH /orders/:id'),
      );
      const fromDatabase = await patch(
        token,
        id,
        { metadata: { step: 'one' } },
        { ifMatch: '"1"', key: 'change-1' },
      );
      expect(fromDatabase.status).toBe(200);
      expect(fromDatabase.headers.get('idempotent-replayed')).toBe('true');
      expect(fromDatabase.headers.get('etag')).toBe('"2"');
      expect(fromDatabase.body).toEqual(first.body);
      const got = await read(token, id);
      expect(got.headers.get('etag')).toBe('"3"');
      expect(got.body.metadata).toEqual({ other: 'two' });
      // The same key with another patch is refused, from Redis and from the database alike.
      const reused = await patch(
        token,
        id,
        { metadata: { step: 'three' } },
        { ifMatch: '"3"', key: 'change-1' },
      );
      expect(reused.status).toBe(422);
      expect(reused.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
      await redis.del(
        idempotencyRedisKey(user, 'change-1', 'PATCH /orders/:id'),
      );
      const reusedInDatabase = await patch(
        token,
        id,
        { metadata: { step: 'three' } },
        { ifMatch: '"3"', key: 'change-1' },
      );
      expect(reusedInDatabase.status).toBe(422);
      expect(await version(id)).toBe(3);
    });

    it('answers 409 with Retry-After while a keyed PATCH is in flight, then replays it', async () => {
      const { token, id } = await anOrder();
      const holding = changes.holdNext();
      const first = patch(
        token,
        id,
        { note: 'held' },
        { ifMatch: '"1"', key: 'held-1' },
      );
      const release = await holding;
      const during = await patch(
        token,
        id,
        { note: 'held' },
        { ifMatch: '"1"', key: 'held-1' },
      );
      expect(during.status).toBe(409);
      expect(during.body.error.code).toBe('IDEMPOTENCY_REQUEST_IN_PROGRESS');
      expect(Number(during.headers.get('retry-after'))).toBeGreaterThan(0);
      release();
      const answered = await first;
      expect(answered.status).toBe(200);
      const after = await patch(
        token,
        id,
        { note: 'held' },
        { ifMatch: '"1"', key: 'held-1' },
      );
      expect(after.status).toBe(200);
      expect(after.headers.get('idempotent-replayed')).toBe('true');
      expect(after.body).toEqual(answered.body);
      expect(await version(id)).toBe(2);
    });

    it('orders a PATCH racing a cancel and a payment webhook on one order as some serial order would', async () => {
      for (let round = 0; round < 12; round++) {
        const { token, id } = await anOrder();
        const [changed, cancelled, paid] = await Promise.all([
          patch(token, id, { note: 'raced' }, { ifMatch: '"1"' }),
          send(t.url, 'DELETE', `/orders/${id}`, { token }),
          deliver(t.url, paymentEvent(id)),
        ]);
        const got = (await read(token, id)).body;
        const row = { version: await version(id), ...got };
        // Exactly one of cancel and payment took effect.
        const cancelWon = cancelled.status === 200;
        const payWon = paid.body.outcome === 'paid';
        expect([round, cancelWon !== payWon]).toEqual([round, true]);
        expect(row.status).toBe(cancelWon ? 'cancelled' : 'paid');
        if (cancelWon) expect(paid.body.outcome).toBe('order_cancelled');
        else expect(cancelled.body.error.code).toBe('ORDER_ALREADY_PAID');
        // The PATCH either came first (then its note stands) or found a newer version (412).
        expect([200, 412]).toContain(changed.status);
        expect(row.note).toBe(
          changed.status === 200 ? 'raced' : 'leave at the door',
        );
        expect(row.version).toBe(changed.status === 200 ? 3 : 2);
      }
    });
  });

  describe('DELETE with If-Match', () => {
    it('cancels when If-Match is current, refuses a stale one (412), and answers a retry of a done cancel', async () => {
      const { token, id } = await anOrder();
      await patch(token, id, { note: 'v2' }, { ifMatch: '"1"' });
      const cancel = (ifMatch: string) =>
        send(t.url, 'DELETE', `/orders/${id}`, {
          token,
          headers: { 'if-match': ifMatch },
        });
      const stale = await cancel('"1"');
      expect(stale.status).toBe(412);
      expect(stale.headers.get('etag')).toBe('"2"');
      expect((await read(token, id)).body.status).toBe('created');
      const garbage = await cancel('two');
      expect(garbage.status).toBe(400);
      const done = await cancel('"2"');
      expect(done.status).toBe(200);
      expect(done.body.status).toBe('cancelled');
      expect(done.headers.get('etag')).toBe('"3"');
      // The retry of that cancel, whose answer was lost, with the same If-Match: it happened.
      const retried = await cancel('"2"');
      expect(retried.status).toBe(200);
      expect(retried.headers.get('etag')).toBe('"3"');

      const paid = await anOrder();
      await deliver(t.url, paymentEvent(paid.id));
      const refused = await send(t.url, 'DELETE', `/orders/${paid.id}`, {
        token: paid.token,
        headers: { 'if-match': '"1"' },
      });
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('ORDER_ALREADY_PAID');
      const any = await anOrder();
      const star = await send(t.url, 'DELETE', `/orders/${any.id}`, {
        token: any.token,
        headers: { 'if-match': '*' },
      });
      expect(star.status).toBe(200);
    });
  });

  describe('metadata on create', () => {
    it('keeps metadata in the order, the fingerprint and the stored replay', async () => {
      const body = { ...validOrder(), metadata: { cartId: 'cart-9' } };
      const { user, token, id, created } = await anOrder(body);
      expect(created.body.metadata).toEqual({ cartId: 'cart-9' });
      // Changed since: a replay still answers what the create answered, from Redis or the database.
      await patch(
        token,
        id,
        { metadata: { cartId: 'cart-10' } },
        { ifMatch: '"1"' },
      );
      const replay = await createOrder(t, token, `create-${user}`, body);
      expect(replay.body).toEqual(created.body);
      await redis.del(idempotencyRedisKey(user, `create-${user}`));
      const fromDatabase = await createOrder(t, token, `create-${user}`, body);
      expect(fromDatabase.headers.get('idempotent-replayed')).toBe('true');
      expect(fromDatabase.body).toEqual(created.body);
      expect(fromDatabase.headers.get('etag')).toBe('"1"');
      const other = await createOrder(t, token, `create-${user}`, {
        ...body,
        metadata: { cartId: 'cart-11' },
      });
      expect(other.status).toBe(422);
      const bad = await createOrder(t, token, 'bad-metadata', {
        ...validOrder(),
        metadata: { k: null },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error.details[0].field).toBe('metadata');
    });
  });
});
