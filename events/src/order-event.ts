/** The event types the orders service publishes (subjects and CloudEvents `type` alike). */
export const ORDER_EVENT_TYPES = [
  'orders.order.created',
  'orders.order.updated',
  'orders.order.cancelled',
  'orders.order.paid',
] as const;

export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];

/** The order as the API shows it after the change, plus the user who owns it. */
export interface OrderEventData {
  id: string;
  userId: string;
  status: 'created' | 'cancelled' | 'paid';
  currency: string;
  items: { sku: string; quantity: number; unitPriceCents: number }[];
  totalCents: number;
  note: string | null;
  metadata: Record<string, string>;
  createdAt: string;
  paidAt: string | null;
}

/**
 * One order event: a CloudEvent 1.0 in structured JSON mode. `subject` is the order's id and
 * `sequence` its version after the change (1 for `created`, then one more per change).
 */
export interface OrderEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: OrderEventType;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  sequence: number;
  data: OrderEventData;
}

/** A message that is not an order event; `known` holds what could be read of it (for the dead letter). */
export class InvalidEventError extends Error {
  constructor(
    message: string,
    readonly known: { id?: string; orderId?: string; sequence?: number } = {},
  ) {
    super(message);
    this.name = 'InvalidEventError';
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads a message's bytes as an order event, or throws InvalidEventError saying why not (bad JSON,
 * not a CloudEvent 1.0, not an order event). An unknown `type` is reported with the id, order and
 * sequence it carries, so that the consumer can keep the order's events in sequence past it.
 *
 * @example
 * const event = parseOrderEvent(msg.data); // event.type === 'orders.order.paid'
 */
export function parseOrderEvent(bytes: Uint8Array): OrderEvent {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new InvalidEventError(`not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidEventError('not a JSON object');
  const event = value as Record<string, unknown>;
  if (event.specversion !== '1.0')
    throw new InvalidEventError('not a CloudEvent 1.0 (specversion)');
  for (const field of ['id', 'source', 'type', 'subject', 'time'] as const)
    if (typeof event[field] !== 'string' || event[field] === '')
      throw new InvalidEventError(`not a CloudEvent: no ${field}`);
  const { id, subject, sequence, type } = event as Record<string, string>;
  if (!UUID.test(id)) throw new InvalidEventError('id is not a UUID');
  if (!UUID.test(subject))
    throw new InvalidEventError('subject is not an order id', { id });
  if (!Number.isSafeInteger(sequence) || Number(sequence) < 1)
    throw new InvalidEventError('sequence is not a positive integer', { id });
  const known = { id, orderId: subject, sequence: Number(sequence) };
  if (!(ORDER_EVENT_TYPES as readonly string[]).includes(type))
    throw new InvalidEventError(`unknown type ${type}`, known);
  const data = event.data as Partial<OrderEventData> | undefined;
  if (typeof data !== 'object' || data === null || data.id !== subject)
    throw new InvalidEventError(
      'data is not the order named by subject',
      known,
    );
  return event as unknown as OrderEvent;
}
