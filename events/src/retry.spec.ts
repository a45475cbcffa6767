import {
  backoffMs,
  isDatabaseLoss,
  isTransientDatabaseError,
} from './retry.js';

describe('backoffMs', () => {
  it('doubles from the base, capped, with at most a fifth taken off as jitter', () => {
    const top = () => 1;
    expect([1, 2, 3, 4, 10].map((n) => backoffMs(n, 100, 1000, top))).toEqual([
      100, 200, 400, 800, 1000,
    ]);
    expect(backoffMs(3, 100, 1000, () => 0)).toBe(320);
  });
});

describe('isTransientDatabaseError', () => {
  it.each([
    ['08006', true], // connection failure
    ['57P01', true], // admin shutdown
    ['53300', true], // too many connections
    ['40001', true], // serialization failure
    ['40P01', true], // deadlock
    ['23505', false], // unique violation: the handler's doing
    ['22P02', false], // invalid input
    ['ECONNREFUSED', false], // not a SQLSTATE: a handler's own network call
    [undefined, false],
  ])('%s: %s', (code, transient) => {
    expect(
      isTransientDatabaseError(Object.assign(new Error('x'), { code })),
    ).toBe(transient);
  });
});

describe('isDatabaseLoss', () => {
  const sqlError = (code: string) =>
    Object.assign(new Error(code), { code, severity: 'ERROR' });

  it('is a lost database for socket errors, no SQLSTATE, and the transient classes', () => {
    expect(
      isDatabaseLoss(new Error('Connection terminated unexpectedly')),
    ).toBe(true);
    expect(
      isDatabaseLoss(Object.assign(new Error('x'), { code: 'EPIPE' })),
    ).toBe(true);
    expect(isDatabaseLoss(sqlError('57P01'))).toBe(true);
    expect(isDatabaseLoss(sqlError('40001'))).toBe(true);
  });

  it("is the event's own failure for data and constraint errors", () => {
    for (const code of ['22021', '22003', '23505', '22P02', '42703'])
      expect(isDatabaseLoss(sqlError(code))).toBe(false);
  });
});
