import { decodeCursor, encodeCursor, InvalidCursorError } from './order-cursor';

describe('order cursor', () => {
  const position = {
    createdAt: new Date('2026-11-29T10:00:00.123Z'),
    id: '5b0c3c36-8d0a-4d1b-9d7e-0d5b8f9b1a11',
  };

  it('round-trips a position as an opaque url-safe string', () => {
    const cursor = encodeCursor(position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual(position);
  });

  it.each([
    ['garbage', 'not a cursor'],
    ['a non-array', Buffer.from('{"a":1}').toString('base64url')],
    [
      'a bad id',
      Buffer.from('["2026-11-29T10:00:00.123Z","x"]').toString('base64url'),
    ],
    [
      'a bad date',
      Buffer.from(
        '["yesterday","5b0c3c36-8d0a-4d1b-9d7e-0d5b8f9b1a11"]',
      ).toString('base64url'),
    ],
    [
      'a date from the far past (Postgres: timestamp out of range)',
      Buffer.from(
        '["-271821-04-20T00:00:00.000Z","5b0c3c36-8d0a-4d1b-9d7e-0d5b8f9b1a11"]',
      ).toString('base64url'),
    ],
    [
      'a date from the far future',
      Buffer.from(
        '["+275760-09-13T00:00:00.000Z","5b0c3c36-8d0a-4d1b-9d7e-0d5b8f9b1a11"]',
      ).toString('base64url'),
    ],
  ])('refuses %s', (_, cursor) => {
    expect(() => decodeCursor(cursor)).toThrow(InvalidCursorError);
  });
});
