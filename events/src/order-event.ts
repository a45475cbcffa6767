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

/**
 * A message that is not an order event. `known` holds the id, order and sequence only when the
 * message is otherwise a genuine event of the configured source whose `type` this version does not
 * know: the consumer then keeps the order's events in sequence past it. A message that fails any
 * other check names nothing, so it can neither take a genuine event's place in its order nor its id.
 */
export class InvalidEventError extends Error {
  constructor(
    message: string,
    readonly known: { id?: string; orderId?: string; sequence?: number } = {},
  ) {
    super(message);
    this.name = 'InvalidEventError';
  }
}

/** What a message must also match to be believed: where it says it came from, where it arrived. */
export interface EventProvenance {
  /** The CloudEvents `source` the orders service was configured with (EVENTS_SOURCE). */
  source: string;
  /** The NATS subject the message arrived on; it must be `subjectPrefix` + the event's `type`. */
  natsSubject: string;
  subjectPrefix?: string;
}

/** The inbox keeps sequences in a Postgres integer; an order's version never comes near it. */
export const MAX_EVENT_SEQUENCE = 2_147_483_647;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STATUSES = ['created', 'cancelled', 'paid'];
/** The status an order has after each change; `updated` leaves it as it was. */
const STATUS_AFTER: Partial<Record<OrderEventType, string>> = {
  'orders.order.created': 'created',
  'orders.order.cancelled': 'cancelled',
  'orders.order.paid': 'paid',
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isCount = (value: unknown, min: number) =>
  Number.isSafeInteger(value) && (value as number) >= min;
const isText = (value: unknown) => typeof value === 'string' && value !== '';

/**
 * Reads a message's bytes as an order event, or throws InvalidEventError saying why not: bad JSON,
 * not a CloudEvent 1.0, a `source` or arrival subject other than the expected ones (when
 * `provenance` is given), a sequence outside 1..2^31-1, data without the documented fields and
 * types, or an unknown type.
 *
 * @example
 * const event = parseOrderEvent(msg.data, { source: '/orders', natsSubject: msg.subject });
 */
export function parseOrderEvent(
  bytes: Uint8Array,
  provenance?: EventProvenance,
): OrderEvent {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new InvalidEventError(`not JSON: ${(error as Error).message}`);
  }
  if (!isObject(value)) throw new InvalidEventError('not a JSON object');
  if (value.specversion !== '1.0')
    throw new InvalidEventError('not a CloudEvent 1.0 (specversion)');
  for (const field of ['id', 'source', 'type', 'subject', 'time'] as const)
    if (!isText(value[field]))
      throw new InvalidEventError(`not a CloudEvent: no ${field}`);
  const { id, subject, sequence, type, source } = value as Record<
    string,
    string
  >;
  if (provenance) checkProvenance(source, type, provenance);
  if (!UUID.test(id)) throw new InvalidEventError('id is not a UUID');
  if (!UUID.test(subject))
    throw new InvalidEventError('subject is not an order id');
  if (!isCount(sequence, 1) || Number(sequence) > MAX_EVENT_SEQUENCE)
    throw new InvalidEventError(
      `sequence is not an integer in 1..${MAX_EVENT_SEQUENCE}`,
    );
  if (!(ORDER_EVENT_TYPES as readonly string[]).includes(type))
    throw new InvalidEventError(`unknown type ${type}`, {
      id,
      orderId: subject,
      sequence: Number(sequence),
    });
  const problem = dataProblem(value.data, subject, type as OrderEventType);
  if (problem) throw new InvalidEventError(problem);
  return value as unknown as OrderEvent;
}

function checkProvenance(
  source: string,
  type: string,
  { source: expected, natsSubject, subjectPrefix = '' }: EventProvenance,
): void {
  if (source !== expected)
    throw new InvalidEventError(
      `source ${JSON.stringify(source)} is not ${JSON.stringify(expected)}`,
    );
  if (natsSubject !== subjectPrefix + type)
    throw new InvalidEventError(
      `arrived on subject ${JSON.stringify(natsSubject)}, not on its type ${JSON.stringify(subjectPrefix + type)}`,
    );
}

/** Why `data` is not the order named by `subject` after a change of `type`, if it is not. */
function dataProblem(
  data: unknown,
  subject: string,
  type: OrderEventType,
): string | undefined {
  if (!isObject(data) || data.id !== subject)
    return 'data is not the order named by subject';
  if (!isText(data.userId)) return 'data.userId is not a string';
  if (!STATUSES.includes(data.status as string))
    return 'data.status is not an order status';
  const after = STATUS_AFTER[type];
  if (after && data.status !== after)
    return `data.status ${String(data.status)} does not follow ${type}`;
  if (typeof data.currency !== 'string' || !/^[A-Z]{3}$/.test(data.currency))
    return 'data.currency is not a currency code';
  if (!Array.isArray(data.items) || data.items.length === 0)
    return 'data.items is not a list of items';
  for (const item of data.items as unknown[])
    if (
      !isObject(item) ||
      !isText(item.sku) ||
      !isCount(item.quantity, 1) ||
      !isCount(item.unitPriceCents, 0)
    )
      return 'data.items holds an item without sku, quantity and unitPriceCents';
  if (!isCount(data.totalCents, 0)) return 'data.totalCents is not a count';
  if (data.note !== null && typeof data.note !== 'string')
    return 'data.note is not a string or null';
  if (
    !isObject(data.metadata) ||
    Object.values(data.metadata).some((entry) => typeof entry !== 'string')
  )
    return 'data.metadata is not an object of strings';
  if (!isText(data.createdAt)) return 'data.createdAt is not a time';
  if (data.paidAt !== null && !isText(data.paidAt))
    return 'data.paidAt is not a time or null';
  return undefined;
}
