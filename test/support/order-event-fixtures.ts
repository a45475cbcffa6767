import { randomUUID } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';

const STATUS_AFTER = {
  created: 'created',
  updated: 'created',
  cancelled: 'cancelled',
  paid: 'paid',
} as const;

/** An order event as the orders service publishes it (CloudEvents 1.0, structured JSON). */
export function orderEvent(
  orderId: string,
  sequence: number,
  kind: keyof typeof STATUS_AFTER,
) {
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: '/orders',
    type: `orders.order.${kind}`,
    subject: orderId,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    sequence,
    data: {
      id: orderId,
      userId: 'user-1',
      status: STATUS_AFTER[kind],
      currency: 'USD',
      items: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 500 }],
      totalCents: 1000,
      note: null,
      metadata: {},
      createdAt: new Date().toISOString(),
      paidAt: kind === 'paid' ? new Date().toISOString() : null,
    },
  };
}

/**
 * Publishes `body` on `<prefix>.<its type>`, as the relay does (`Nats-Msg-Id` = the event id), or
 * with `msgId` to get past the stream's deduplication (a second copy, as a consumer may see one).
 */
export async function publishEvent(
  js: JetStreamClient,
  prefix: string,
  body: object | string,
  msgId?: string,
): Promise<void> {
  const event: { type?: string; id?: string } =
    typeof body === 'string' ? {} : body;
  const subject = `${prefix}.${event.type ?? 'orders.order.created'}`;
  await js.publish(
    subject,
    typeof body === 'string' ? body : JSON.stringify(body),
    { msgID: msgId ?? event.id ?? randomUUID() },
  );
}
