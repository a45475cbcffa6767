import { cloudEventJson, type OrderCloudEvent } from './cloud-event';

describe('cloudEventJson', () => {
  it('is the structured-mode CloudEvent 1.0 of the row, data and source intact', () => {
    const data = {
      id: '5d6c1c3e-7d7a-4c43-9a57-0f4d3c1e2b10',
      status: 'paid',
      note: 'quote " and \\ and \u2028',
      metadata: { cartId: 'c-1' },
      userId: 'alice',
    };
    const text = cloudEventJson(
      {
        id: '0b9c1a52-0d43-4a7e-9a3e-1c0f5f3f8a10',
        order_id: data.id,
        type: 'orders.order.paid',
        sequence: 3,
        data: JSON.stringify(data),
        time: '2026-12-01T02:40:11.532Z',
      },
      JSON.stringify('/orders "eu"'),
    );
    expect(JSON.parse(text)).toEqual({
      specversion: '1.0',
      id: '0b9c1a52-0d43-4a7e-9a3e-1c0f5f3f8a10',
      source: '/orders "eu"',
      type: 'orders.order.paid',
      subject: data.id,
      time: '2026-12-01T02:40:11.532Z',
      datacontenttype: 'application/json',
      sequence: 3,
      data,
    } satisfies OrderCloudEvent);
  });
});
