import { IdempotencyContext } from './idempotency-context';
import { IdempotencyKeyReusedException } from './idempotency.exceptions';
import { insertOnce } from './insert-once';

describe('insertOnce (the database half of the promise)', () => {
  const duplicate = Object.assign(new Error('duplicate key'), {
    code: '23505',
  });
  const context = () => new IdempotencyContext('k1', 'alice', 'fp-1');
  const steps = (existing?: { fingerprint: string; result: string }) => ({
    insert: () => Promise.reject(duplicate),
    isDuplicateKey: (error: unknown) => error === duplicate,
    loadExisting: () => Promise.resolve(existing),
  });

  it('returns the new row, not marked as a replay', async () => {
    const idempotency = context();
    const result = await insertOnce(idempotency, {
      ...steps(),
      insert: () => Promise.resolve('new'),
    });
    expect(result).toBe('new');
    expect(idempotency.replayed).toBe(false);
  });

  it('resolves a duplicate key to the original row and marks the context replayed', async () => {
    const idempotency = context();
    const result = await insertOnce(
      idempotency,
      steps({ fingerprint: 'fp-1', result: 'original' }),
    );
    expect(result).toBe('original');
    expect(idempotency.replayed).toBe(true);
  });

  it('refuses the key with 422 when the original was a different request', async () => {
    const idempotency = context();
    await expect(
      insertOnce(idempotency, steps({ fingerprint: 'fp-other', result: 'x' })),
    ).rejects.toBeInstanceOf(IdempotencyKeyReusedException);
    expect(idempotency.replayed).toBe(false);
  });

  it('names the header the key came in when it refuses it', async () => {
    const idempotency = new IdempotencyContext('k1', 'alice', 'fp-1', 'X-Key');
    await expect(
      insertOnce(idempotency, steps({ fingerprint: 'fp-other', result: 'x' })),
    ).rejects.toThrow(/This X-Key was already used/);
  });

  it('lets any other error through untouched', async () => {
    const broken = new Error('connection lost');
    await expect(
      insertOnce(context(), {
        ...steps(),
        insert: () => Promise.reject(broken),
      }),
    ).rejects.toBe(broken);
  });
});
