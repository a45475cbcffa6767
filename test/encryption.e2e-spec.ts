import { createHash, randomBytes } from 'node:crypto';
import { createClient, RESP_TYPES } from 'redis';
import {
  countOrders,
  createOrder,
  createTestApp,
  idempotencyRedisKey,
  newUser,
  tokenFor,
  validOrder,
} from './support/test-app';

/**
 * IDEMPOTENCY_ENCRYPTION_KEYS against the real app and Redis: stored responses are AES-256-GCM
 * ciphertext; a key rotated in (put first) still reads entries written under the old one; an entry
 * whose key was dropped is treated as absent, and the database answers the retry.
 */
describe('stored responses encrypted at rest, with key rotation', () => {
  const redis = createClient({ url: process.env.REDIS_URL });
  const oldKey = randomBytes(32).toString('base64');
  const newKey = randomBytes(32).toString('base64');
  const keyId = (key: string) =>
    createHash('sha256')
      .update(Buffer.from(key, 'base64'))
      .digest()
      .subarray(0, 4);
  beforeAll(() => redis.connect());
  afterAll(() => redis.quit());

  const stored = async (user: string, key: string): Promise<Buffer> =>
    (await redis
      .withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer })
      .get(idempotencyRedisKey(user, key)))!;

  it('writes ciphertext, replays after rotation, and treats an entry under a dropped key as absent', async () => {
    const user = newUser();
    const token = tokenFor(user);
    const body = { ...validOrder(), note: 'deliver-to-the-secret-door' };
    const before = await createTestApp({
      env: { IDEMPOTENCY_ENCRYPTION_KEYS: oldKey },
    });
    let first;
    try {
      first = await createOrder(before, token, 'enc-1', body);
      expect(first.status).toBe(201);
    } finally {
      await before.close();
    }
    const entry = await stored(user, 'enc-1');
    expect(entry[0]).toBe(3);
    expect(entry.subarray(1, 5)).toEqual(keyId(oldKey));
    expect(entry.includes(Buffer.from('secret-door'))).toBe(false);
    expect(entry.includes(Buffer.from(user))).toBe(false);

    // Rotated: the new key first, the old one still listed. The entry replays from Redis as it is.
    const rotated = await createTestApp({
      env: { IDEMPOTENCY_ENCRYPTION_KEYS: `${newKey},${oldKey}` },
    });
    try {
      const retry = await createOrder(rotated, token, 'enc-1', body);
      expect(retry.status).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(retry.body).toEqual(first.body);
      expect((await stored(user, 'enc-1')).equals(entry)).toBe(true);
    } finally {
      await rotated.close();
    }

    // The old key dropped: its entry is absent; the database resolves the retry to the same order,
    // and the response is stored again under the new key.
    const dropped = await createTestApp({
      env: { IDEMPOTENCY_ENCRYPTION_KEYS: newKey },
    });
    try {
      const retry = await createOrder(dropped, token, 'enc-1', body);
      expect(retry.status).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(retry.body).toEqual(first.body);
      expect(await countOrders(dropped, user)).toBe(1);
      expect((await stored(user, 'enc-1')).subarray(1, 5)).toEqual(
        keyId(newKey),
      );
    } finally {
      await dropped.close();
    }
  });
});
