import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { send, type Sent } from './test-app';
import { TEST_WEBHOOK_SECRET } from './test-env';

export interface PaymentEvent {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/** A payment.succeeded event for `orderId`, by default for the test order's total (3998 USD cents). */
export function paymentEvent(
  orderId: string,
  overrides: { type?: string; data?: Record<string, unknown> } = {},
): PaymentEvent {
  return {
    type: overrides.type ?? 'payment.succeeded',
    timestamp: new Date().toISOString(),
    data: {
      paymentId: `pay_${randomUUID()}`,
      orderId,
      amountCents: 3998,
      currency: 'USD',
      ...overrides.data,
    },
  };
}

export interface Delivery {
  id?: string;
  /** Seconds since the epoch; default now. */
  timestamp?: number;
  secret?: string;
  /** Replaces the computed signature header. */
  signature?: string;
  /** The exact bytes sent; default the event as JSON. */
  rawBody?: string;
}

/** Sends `event` to POST /webhooks/payments, signed as a Standard Webhooks provider would. */
export function deliver(
  base: string,
  event: unknown,
  delivery: Delivery = {},
): Promise<Sent> {
  const id = delivery.id ?? `msg_${randomUUID()}`;
  const timestamp = delivery.timestamp ?? Math.floor(Date.now() / 1000);
  const body = delivery.rawBody ?? JSON.stringify(event);
  const signature =
    delivery.signature ??
    new Webhook(delivery.secret ?? TEST_WEBHOOK_SECRET).sign(
      id,
      new Date(timestamp * 1000),
      body,
    );
  return send(base, 'POST', '/webhooks/payments', {
    rawBody: body,
    headers: {
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signature,
    },
  });
}
