import {
  createTestApp,
  newUser,
  send,
  TestApp,
  tokenFor,
  validOrder,
  createOrder,
  countOrders as countOrdersOf,
} from './support/test-app';

describe('Orders API (HTTP, real Postgres and Redis)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const countOrders = (userId: string) => countOrdersOf(t, userId);

  const create = (token: string, key: string, body?: unknown) =>
    createOrder(t, token, key, body);

  describe('POST /orders', () => {
    it('creates an order: 201, the documented body and a Location header', async () => {
      const user = newUser();
      const response = await create(tokenFor(user), 'key-create-1');
      expect(response.status).toBe(201);
      expect(response.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        status: 'created',
        currency: 'USD',
        items: [{ sku: 'ABC-1', quantity: 2, unitPriceCents: 1999 }],
        totalCents: 3998,
        note: 'leave at the door',
        metadata: {},
        createdAt: expect.stringMatching(
          /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
        ),
        paidAt: null,
      });
      expect(response.headers.get('location')).toBe(
        `/orders/${response.body.id}`,
      );
      expect(response.headers.get('etag')).toBe('"1"');
      expect(response.headers.get('idempotent-replayed')).toBeNull();
      expect(await countOrders(user)).toBe(1);
      expect(response.headers.get('server-timing')).toMatch(
        /^app;dur=\d+\.\d{3}$/,
      );
    });

    it('computes large totals exactly in integer cents', async () => {
      const items = Array.from({ length: 100 }, (_, i) => ({
        sku: `S${i}`,
        quantity: 1000,
        unitPriceCents: 1_000_000_000,
      }));
      const response = await create(tokenFor(newUser()), 'key-big', {
        currency: 'JPY',
        items,
      });
      expect(response.status).toBe(201);
      expect(response.body.totalCents).toBe(100_000_000_000_000);
      expect(response.body.note).toBeNull();
    });

    it('replays a retry with the same key: same status, body and Location, marked replayed, one row', async () => {
      const user = newUser();
      const token = tokenFor(user);
      const first = await create(token, 'key-retry');
      const retry = await create(token, 'key-retry');
      expect(retry.status).toBe(201);
      expect(retry.body).toEqual(first.body);
      expect(retry.headers.get('location')).toBe(first.headers.get('location'));
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(await countOrders(user)).toBe(1);
    });

    it('treats a body with reordered keys as the same request', async () => {
      const token = tokenFor(newUser());
      const first = await create(token, 'key-order');
      const reordered = {
        note: 'leave at the door',
        items: [{ unitPriceCents: 1999, quantity: 2, sku: 'ABC-1' }],
        currency: 'USD',
      };
      const retry = await create(token, 'key-order', reordered);
      expect(retry.status).toBe(201);
      expect(retry.body.id).toBe(first.body.id);
    });

    it('refuses the same key with a different body: 422 IDEMPOTENCY_KEY_REUSED, nothing created', async () => {
      const user = newUser();
      const token = tokenFor(user);
      await create(token, 'key-reused');
      const other = await create(token, 'key-reused', {
        ...validOrder(),
        currency: 'EUR',
      });
      expect(other.status).toBe(422);
      expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(await countOrders(user)).toBe(1);
    });

    it('scopes keys per user: the same key for two users makes two orders', async () => {
      const [alice, bob] = [newUser(), newUser()];
      const a = await create(tokenFor(alice), 'shared-key');
      const b = await create(tokenFor(bob), 'shared-key', {
        ...validOrder(),
        currency: 'EUR',
      });
      expect(a.status).toBe(201);
      expect(b.status).toBe(201);
      expect(b.body.id).not.toBe(a.body.id);
    });

    it('does not remember a 4xx: a corrected retry with the same key creates the order', async () => {
      const user = newUser();
      const token = tokenFor(user);
      const bad = await create(token, 'key-fixed', {
        ...validOrder(),
        currency: 'usd',
      });
      expect(bad.status).toBe(400);
      const fixed = await create(token, 'key-fixed');
      expect(fixed.status).toBe(201);
      expect(fixed.headers.get('idempotent-replayed')).toBeNull();
      expect(await countOrders(user)).toBe(1);
    });

    describe('Idempotency-Key header', () => {
      const token = tokenFor(newUser());
      it('is required: 400 MISSING_IDEMPOTENCY_KEY', async () => {
        const response = await send(t.url, 'POST', '/orders', {
          token,
          body: validOrder(),
        });
        expect(response.status).toBe(400);
        expect(response.body).toEqual({
          error: {
            code: 'MISSING_IDEMPOTENCY_KEY',
            message: expect.any(String),
          },
        });
      });
      it.each([
        ['empty', ''],
        ['too long', 'k'.repeat(256)],
        ['with a space', 'has space'],
        ['with a control character', 'tab\tkey'],
        ['a malformed quoted form', '"unterminated'],
      ])(
        'refuses a key that is %s: 400 INVALID_IDEMPOTENCY_KEY',
        async (_, key) => {
          const response = await create(token, key);
          expect(response.status).toBe(400);
          expect(response.body.error.code).toBe('INVALID_IDEMPOTENCY_KEY');
        },
      );
      it('accepts 255 visible ASCII characters', async () => {
        const key = Array.from({ length: 255 }, (_, i) =>
          String.fromCharCode(0x21 + (i % 94)),
        ).join('');
        expect((await create(token, key)).status).toBe(201);
      });
    });

    describe('body validation', () => {
      const token = tokenFor(newUser());
      const item = validOrder().items[0];
      it.each([
        // Unknown properties are counted on their object, never named (security-edges).
        ['an unknown field', { ...validOrder(), admin: true }, 'body'],
        [
          'a lowercase currency',
          { ...validOrder(), currency: 'usd' },
          'currency',
        ],
        ['no items', { ...validOrder(), items: [] }, 'items'],
        [
          '101 items',
          { ...validOrder(), items: Array(101).fill(item) },
          'items',
        ],
        [
          'a 65-char sku',
          { ...validOrder(), items: [{ ...item, sku: 'x'.repeat(65) }] },
          'items.0.sku',
        ],
        [
          'an empty sku',
          { ...validOrder(), items: [{ ...item, sku: '' }] },
          'items.0.sku',
        ],
        [
          'quantity 0',
          { ...validOrder(), items: [{ ...item, quantity: 0 }] },
          'items.0.quantity',
        ],
        [
          'quantity 1001',
          { ...validOrder(), items: [{ ...item, quantity: 1001 }] },
          'items.0.quantity',
        ],
        [
          'a fractional quantity',
          { ...validOrder(), items: [{ ...item, quantity: 1.5 }] },
          'items.0.quantity',
        ],
        [
          'a quantity given as a string',
          { ...validOrder(), items: [{ ...item, quantity: '2' }] },
          'items.0.quantity',
        ],
        [
          'a negative price',
          { ...validOrder(), items: [{ ...item, unitPriceCents: -1 }] },
          'items.0.unitPriceCents',
        ],
        [
          'a price over 1e9',
          {
            ...validOrder(),
            items: [{ ...item, unitPriceCents: 1_000_000_001 }],
          },
          'items.0.unitPriceCents',
        ],
        ['a 501-char note', { ...validOrder(), note: 'n'.repeat(501) }, 'note'],
        [
          'an item that is not an object',
          { ...validOrder(), items: [7] },
          'items.0',
        ],
        [
          'an unknown item field',
          { ...validOrder(), items: [{ ...item, discount: 5 }] },
          'items.0',
        ],
        ['an array body', [validOrder()], 'body'],
        ['a string body', 'order', 'body'],
        ['a null body', null, 'body'],
      ])(
        'refuses %s: 400 VALIDATION_FAILED naming the field',
        async (_, body, field) => {
          const response = await create(
            token,
            `key-${field}-${Math.random()}`,
            body,
          );
          expect(response.status).toBe(400);
          expect(response.body.error.code).toBe('VALIDATION_FAILED');
          expect(
            response.body.error.details.map((d: { field: string }) => d.field),
          ).toContain(field);
        },
      );

      it('refuses malformed JSON: 400 INVALID_JSON', async () => {
        const response = await send(t.url, 'POST', '/orders', {
          token,
          key: 'key-badjson',
          rawBody: '{"currency":',
        });
        expect(response.status).toBe(400);
        expect(response.body.error.code).toBe('INVALID_JSON');
      });

      it('refuses JSON nested deeper than 32 levels: 400 VALIDATION_FAILED (found by the fuzz test as a 500)', async () => {
        const response = await send(t.url, 'POST', '/orders', {
          token,
          key: 'key-deep',
          rawBody: `${'['.repeat(20000)}${']'.repeat(20000)}`,
        });
        expect(response.status).toBe(400);
        expect(response.body.error).toMatchObject({
          code: 'VALIDATION_FAILED',
          details: [{ field: 'body', message: expect.stringMatching(/32/) }],
        });
        // Nothing was remembered: the same key with a real order creates it.
        expect((await create(token, 'key-deep')).status).toBe(201);
      });

      it('refuses a body over 64 KiB: 413 PAYLOAD_TOO_LARGE', async () => {
        const body = { ...validOrder(), note: 'x'.repeat(70 * 1024) };
        const response = await create(token, 'key-large', body);
        expect(response.status).toBe(413);
        expect(response.body.error.code).toBe('PAYLOAD_TOO_LARGE');
      });

      it('refuses a non-JSON content type: 415 UNSUPPORTED_MEDIA_TYPE', async () => {
        const response = await send(t.url, 'POST', '/orders', {
          token,
          key: 'key-text',
          rawBody: 'currency=USD',
          headers: { 'content-type': 'text/plain' },
        });
        expect(response.status).toBe(415);
        expect(response.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      });
    });
  });

  describe('GET /orders/:id', () => {
    it("returns the caller's order and hides everyone else's as 404", async () => {
      const [owner, stranger] = [newUser(), newUser()];
      const created = await create(tokenFor(owner), 'key-read');
      const read = await send(t.url, 'GET', `/orders/${created.body.id}`, {
        token: tokenFor(owner),
      });
      expect(read.status).toBe(200);
      expect(read.body).toEqual(created.body);
      const foreign = await send(t.url, 'GET', `/orders/${created.body.id}`, {
        token: tokenFor(stranger),
      });
      expect(foreign.status).toBe(404);
      expect(foreign.body.error.code).toBe('ORDER_NOT_FOUND');
    });

    it.each([
      ['an unknown uuid', '00000000-0000-4000-8000-000000000000'],
      ['a non-uuid', 'not-a-uuid'],
    ])('answers %s with 404 ORDER_NOT_FOUND', async (_, id) => {
      const response = await send(t.url, 'GET', `/orders/${id}`, {
        token: tokenFor(newUser()),
      });
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe('ORDER_NOT_FOUND');
    });
  });

  describe('GET /orders', () => {
    it("pages through only the caller's orders, newest first, without gaps or repeats", async () => {
      const user = newUser();
      const token = tokenFor(user);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++)
        ids.push((await create(token, `key-list-${i}`)).body.id as string);
      await create(tokenFor(newUser()), 'key-list-other');
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
        const page = await send(t.url, 'GET', `/orders${query}`, { token });
        expect(page.status).toBe(200);
        expect(page.body.data.length).toBeLessThanOrEqual(2);
        const data = page.body.data as { id: string }[];
        seen.push(...data.map((o) => o.id));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual([...ids].reverse());
    });

    it('defaults to 20 per page', async () => {
      const token = tokenFor(newUser());
      for (let i = 0; i < 21; i++) await create(token, `key-default-${i}`);
      const page = await send(t.url, 'GET', '/orders', { token });
      expect(page.body.data).toHaveLength(20);
      expect(page.body.nextCursor).toEqual(expect.any(String));
    });

    it.each(['0', '101', 'abc', '1.5', '-1'])(
      'refuses limit=%s with 400',
      async (limit) => {
        const response = await send(t.url, 'GET', `/orders?limit=${limit}`, {
          token: tokenFor(newUser()),
        });
        expect(response.status).toBe(400);
        expect(response.body.error.code).toBe('VALIDATION_FAILED');
      },
    );

    it.each([
      'garbage',
      Buffer.from('["2026-01-01T00:00:00.000Z","nope"]').toString('base64url'),
    ])(
      'refuses a cursor it did not issue (%s) with 400 INVALID_CURSOR',
      async (cursor) => {
        const response = await send(t.url, 'GET', `/orders?cursor=${cursor}`, {
          token: tokenFor(newUser()),
        });
        expect(response.status).toBe(400);
        expect(response.body.error.code).toBe('INVALID_CURSOR');
      },
    );
  });

  describe('DELETE /orders/:id', () => {
    it('cancels, and cancelling again answers 200 with the same state', async () => {
      const token = tokenFor(newUser());
      const created = await create(token, 'key-cancel');
      const first = await send(t.url, 'DELETE', `/orders/${created.body.id}`, {
        token,
      });
      expect(first.status).toBe(200);
      expect(first.body).toEqual({ ...created.body, status: 'cancelled' });
      const again = await send(t.url, 'DELETE', `/orders/${created.body.id}`, {
        token,
      });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
    });

    it("answers 404 for another user's order and leaves it untouched", async () => {
      const owner = newUser();
      const created = await create(tokenFor(owner), 'key-cancel-foreign');
      const response = await send(
        t.url,
        'DELETE',
        `/orders/${created.body.id}`,
        { token: tokenFor(newUser()) },
      );
      expect(response.status).toBe(404);
      const read = await send(t.url, 'GET', `/orders/${created.body.id}`, {
        token: tokenFor(owner),
      });
      expect(read.body.status).toBe('created');
    });
  });

  describe('errors', () => {
    it('answers an unknown route with 404 in the envelope', async () => {
      const response = await send(t.url, 'GET', '/nope', {
        token: tokenFor(newUser()),
      });
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe('NOT_FOUND');
    });

    it('echoes a well-formed X-Request-Id and replaces a malformed one', async () => {
      const kept = await send(t.url, 'GET', '/health', {
        headers: { 'x-request-id': 'req-123' },
      });
      expect(kept.headers.get('x-request-id')).toBe('req-123');
      const replaced = await send(t.url, 'GET', '/health', {
        headers: { 'x-request-id': 'bad id!' },
      });
      expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });
  });
});
