import { retryAfterSeconds } from './claim-lease';

describe('retryAfterSeconds', () => {
  const now = 1_000_000;
  const leaseMs = 5000;
  const lock = (lapsesInMs: number | undefined, renewUntil = now + 25_000) => ({
    renewUntil,
    leaseExpiresAt: lapsesInMs === undefined ? undefined : now + lapsesInMs,
  });

  it('answers 1 while the owner renews (lease renewed within its last third)', () => {
    expect(retryAfterSeconds(lock(5000), leaseMs, now)).toBe(1);
    expect(retryAfterSeconds(lock(3400), leaseMs, now)).toBe(1);
    expect(retryAfterSeconds(lock(1700), leaseMs, now)).toBe(1);
  });

  it('answers the rest of the lease, in whole seconds rounded up, once the owner stopped renewing', () => {
    expect(retryAfterSeconds(lock(1600), leaseMs, now)).toBe(2);
    expect(retryAfterSeconds(lock(900), leaseMs, now)).toBe(1);
    expect(retryAfterSeconds(lock(4000, now - 1), leaseMs, now)).toBe(4);
  });

  it('answers the whole lease when the storage cannot tell', () => {
    expect(retryAfterSeconds(lock(undefined), leaseMs, now)).toBe(5);
    expect(retryAfterSeconds(lock(undefined), 1200, now)).toBe(2);
  });
});
