import { InvalidEventError, parseOrderEvent } from './order-event.js';

const ORDER = '0b7e8a4c-3f5d-4c1e-9a2b-6d8f0e1c2a3b';
const event = (overrides: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  id: '5f0c6b1e-2d3a-4b8c-9e7f-1a2b3c4d5e6f',
  source: '/orders',
  type: 'orders.order.paid',
  subject: ORDER,
  time: '2026-12-01T09:00:00.000Z',
  datacontenttype: 'application/json',
  sequence: 2,
  data: {
    id: ORDER,
    userId: 'user-1',
    status: 'paid',
    currency: 'USD',
    items: [{ sku: 'ABC-1', quantity: 2, unitPriceCents: 1999 }],
    totalCents: 3998,
    note: null,
    metadata: {},
    createdAt: '2026-12-01T08:00:00.000Z',
    paidAt: '2026-12-01T09:00:00.000Z',
  },
  ...overrides,
});
const bytes = (value: unknown) =>
  new TextEncoder().encode(
    typeof value === 'string' ? value : JSON.stringify(value),
  );
const reason = (value: unknown) => {
  try {
    parseOrderEvent(bytes(value));
  } catch (error) {
    return error as InvalidEventError;
  }
  throw new Error('parsed');
};

describe('parseOrderEvent', () => {
  it('reads an order event as the service publishes it', () => {
    expect(parseOrderEvent(bytes(event()))).toEqual(event());
  });

  it.each([
    ['{"id": ', /^not JSON/],
    ['[1, 2]', /^not a JSON object$/],
    [{ ...event(), specversion: '0.3' }, /specversion/],
    [{ ...event(), source: '' }, /no source/],
    [{ ...event(), id: 'evt-1' }, /id is not a UUID/],
    [{ ...event(), subject: 'order-1' }, /subject is not an order id/],
    [
      { ...event(), sequence: 0 },
      /sequence is not an integer in 1\.\.2147483647/,
    ],
    [{ ...event(), sequence: '2' }, /sequence is not an integer/],
    [{ ...event(), sequence: 2 ** 31 }, /sequence is not an integer/],
    [
      { ...event(), data: { ...event().data, status: 'created' } },
      /does not follow orders.order.paid/,
    ],
    [{ ...event(), data: { ...event().data, items: [] } }, /data.items/],
    [
      {
        ...event(),
        data: {
          ...event().data,
          items: [{ sku: 'A', quantity: 0, unitPriceCents: 1 }],
        },
      },
      /data.items/,
    ],
    [
      { ...event(), data: { ...event().data, totalCents: -1 } },
      /data.totalCents/,
    ],
    [
      { ...event(), data: { ...event().data, metadata: { a: 1 } } },
      /data.metadata/,
    ],
    [{ ...event(), data: { ...event().data, userId: 7 } }, /data.userId/],
    [{ ...event(), data: { ...event().data, note: 7 } }, /data.note/],
    [
      { ...event(), data: { ...event().data, currency: 'usd' } },
      /data.currency/,
    ],
  ])('refuses %j: %s', (value, message) => {
    const error = reason(value);
    expect(error).toBeInstanceOf(InvalidEventError);
    expect(error.message).toMatch(message);
  });

  it('refuses invalid UTF-8 rather than reading replacement characters', () => {
    expect(() => parseOrderEvent(new Uint8Array([0x7b, 0xff, 0x7d]))).toThrow(
      /not JSON/,
    );
  });

  it('says which order and sequence a genuine event of an unknown type belongs to, and names nothing for anything else', () => {
    expect(reason(event({ type: 'orders.order.refunded' })).known).toEqual({
      id: event().id,
      orderId: ORDER,
      sequence: 2,
    });
    expect(reason(event({ data: { id: 'someone-else' } })).known).toEqual({});
  });

  it('checks provenance when asked: the configured source, and arrival on the subject that is its type', () => {
    const read = (value: unknown, natsSubject: string) =>
      parseOrderEvent(bytes(value), { source: '/orders', natsSubject });
    expect(read(event(), 'orders.order.paid')).toEqual(event());
    expect(() => read(event({ source: '/evil' }), 'orders.order.paid')).toThrow(
      'source "/evil" is not "/orders"',
    );
    expect(() => read(event(), 'orders.order.created')).toThrow(
      /arrived on subject "orders.order.created", not on its type/,
    );
    // An unknown type from the right source on its own subject keeps its place in its order.
    let error: InvalidEventError | undefined;
    try {
      read(event({ type: 'orders.order.refunded' }), 'orders.order.refunded');
    } catch (caught) {
      error = caught as InvalidEventError;
    }
    expect(error?.known.sequence).toBe(2);
  });
});
