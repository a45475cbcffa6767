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
  data: { id: ORDER, status: 'paid' },
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
    [{ ...event(), sequence: 0 }, /sequence is not a positive integer/],
    [{ ...event(), sequence: '2' }, /sequence is not a positive integer/],
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

  it('says which order and sequence an unknown type or foreign data belongs to', () => {
    for (const value of [
      event({ type: 'orders.order.teleported' }),
      event({ data: { id: 'someone-else' } }),
    ])
      expect(reason(value).known).toEqual({
        id: event().id,
        orderId: ORDER,
        sequence: 2,
      });
  });
});
