import fc from 'fast-check';
import { sign } from 'jsonwebtoken';
import { Client } from 'pg';
import { AppProcess, startAppProcess } from './support/app-process';
import { newUser, tokenFor, validOrder } from './support/test-app';

// Seeded random requests against the production build: never a 5xx, the process stays up, and the
// orders table ends with exactly the orders the fuzz was told it created.

const SEED = Number(process.env.FUZZ_SEED ?? 20261129);
const REQUESTS = 2500;
const users = [newUser(), newUser()];

/** Header values fetch can send: printable ASCII and Latin-1, no control characters. */
const headerText = fc
  .string({ unit: 'binary', maxLength: 300 })
  .map((text) => text.replace(/[^\x20-\x7e\xa0-\xff]/g, ''));

const token = fc.oneof(
  fc.constantFrom(...users.map((user) => tokenFor(user))),
  fc.constant(undefined),
  headerText,
  fc.constant(sign({ sub: 'intruder' }, 'a-different-secret-of-enough-length')),
  fc.constant(
    `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(`{"sub":"${users[0]}"}`).toString('base64url')}.`,
  ),
);

const key = fc.oneof(
  fc.constant(undefined),
  fc.uuid(),
  fc.constantFrom('k-1', 'k-2', '"k-1"', 'k-3'), // collisions: replays and 422s
  headerText,
);

const orderLike = fc.record(
  {
    currency: fc.oneof(
      fc.constantFrom('USD', 'EUR'),
      fc.string(),
      fc.integer(),
    ),
    items: fc.oneof(
      fc.array(
        fc.record(
          {
            sku: fc.oneof(fc.string({ maxLength: 80 }), fc.integer()),
            quantity: fc.oneof(
              fc.integer({ min: -5, max: 2000 }),
              fc.double(),
              fc.string(),
            ),
            unitPriceCents: fc.oneof(
              fc.integer({ min: -5, max: 2_000_000_000 }),
              fc.double(),
              fc.constant(Number.MAX_SAFE_INTEGER),
            ),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 120 },
      ),
      fc.jsonValue(),
    ),
    note: fc.oneof(
      fc.string({ maxLength: 600 }),
      fc.constant(null),
      fc.integer(),
    ),
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  fc.constant(undefined),
  fc.constant(JSON.stringify(validOrder())),
  orderLike.map((value) => JSON.stringify(value)),
  fc.json({ maxDepth: 6 }),
  fc.string({ unit: 'binary', maxLength: 500 }), // mostly not JSON
  fc.constant(`${'['.repeat(5000)}${']'.repeat(5000)}`),
);

const path = fc.oneof(
  fc.constantFrom('/orders', '/orders?limit=5', '/health', '/docs-json', '/'),
  fc.uuid().map((id) => `/orders/${id}`),
  headerText.map((text) => `/orders/${encodeURIComponent(text)}`),
  headerText.map((text) => `/orders?cursor=${encodeURIComponent(text)}`),
  fc.integer().map((limit) => `/orders?limit=${limit}`),
  headerText.map((text) => `/${encodeURIComponent(text)}`),
);

const anything = fc.record({
  method: fc.constantFrom(
    'GET',
    'POST',
    'DELETE',
    'PUT',
    'PATCH',
    'OPTIONS',
    'HEAD',
  ),
  path,
  token,
  key,
  contentType: fc.oneof(
    fc.constant('application/json'),
    fc.constant('application/json; charset=utf-8'),
    fc.constant(undefined),
    headerText,
  ),
  body,
  requestId: fc.oneof(fc.constant(undefined), headerText),
});

/** Well-formed creates with hostile bodies and colliding keys: they reach the idempotency and the database. */
const nearlyValid = fc.record({
  method: fc.constant('POST'),
  path: fc.constant('/orders'),
  token: fc.constantFrom(...users.map((user) => tokenFor(user))),
  key: fc.oneof(fc.uuid(), fc.constantFrom('k-1', 'k-2', '"k-1"', 'k-3')),
  contentType: fc.constant('application/json'),
  body: fc.oneof(
    fc.constant(JSON.stringify(validOrder())),
    orderLike.map((value) => JSON.stringify(value)),
  ),
  requestId: fc.oneof(fc.constant(undefined), headerText),
});

const request = fc.oneof(
  { arbitrary: anything, weight: 2 },
  { arbitrary: nearlyValid, weight: 1 },
);

type FuzzRequest = typeof request extends fc.Arbitrary<infer T> ? T : never;

describe('HTTP fuzz (seeded)', () => {
  let app: AppProcess;
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  beforeAll(async () => {
    await db.connect();
    app = await startAppProcess();
  });
  afterAll(async () => {
    await app.stop();
    await db.end();
  });

  it(`answers ${REQUESTS} random requests without a 5xx and keeps exactly the orders it reported`, async () => {
    const requests = fc.sample(request, { seed: SEED, numRuns: REQUESTS });
    const serverErrors: string[] = [];
    const createdIds = new Set<string>();
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const sent = requests[next++];
        const { status, text } = await fire(app.url, sent);
        if (status >= 500)
          serverErrors.push(
            `${status} ${JSON.stringify(sent).slice(0, 300)} -> ${text.slice(0, 200)}`,
          );
        if (status === 201 && sent.method === 'POST')
          createdIds.add((JSON.parse(text) as { id: string }).id);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));

    expect(serverErrors).toEqual([]);
    expect(app.child.exitCode).toBeNull();
    expect((await fetch(`${app.url}/health/live`)).status).toBe(200);
    const rows = await db.query<{ id: string }>(
      'SELECT id FROM orders WHERE user_id = ANY($1)',
      [users],
    );
    expect(new Set(rows.rows.map((row) => row.id))).toEqual(createdIds);
    expect(createdIds.size).toBeGreaterThan(0); // the fuzz did create orders
    // A bound, not a speed check: 2,500 requests took over 30 s with a core hogged and two suites beside it.
  }, 120_000);
});

async function fire(
  base: string,
  sent: FuzzRequest,
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  if (sent.token !== undefined) headers.authorization = `Bearer ${sent.token}`;
  if (sent.key !== undefined) headers['idempotency-key'] = sent.key;
  if (sent.contentType !== undefined)
    headers['content-type'] = sent.contentType;
  if (sent.requestId !== undefined) headers['x-request-id'] = sent.requestId;
  const withBody = sent.method !== 'GET' && sent.method !== 'HEAD';
  const response = await fetch(`${base}${sent.path}`, {
    method: sent.method,
    headers,
    body: withBody ? sent.body : undefined,
    signal: AbortSignal.timeout(10000),
  });
  return { status: response.status, text: await response.text() };
}
