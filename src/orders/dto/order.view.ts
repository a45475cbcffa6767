import { ApiProperty } from '@nestjs/swagger';
import type { OrderStatus } from '../order.entity';
import { metadataSchema, type OrderMetadata } from '../order-metadata';
import { OrderItemDto } from './create-order.dto';

/** The order as the API shows it. */
export class OrderView {
  @ApiProperty({ format: 'uuid', minLength: 36, maxLength: 36 })
  id: string;

  @ApiProperty({ enum: ['created', 'cancelled', 'paid'] })
  status: OrderStatus;

  @ApiProperty({
    example: 'USD',
    pattern: '^[A-Z]{3}$',
    minLength: 3,
    maxLength: 3,
  })
  currency: string;

  @ApiProperty({ type: [OrderItemDto], minItems: 1, maxItems: 100 })
  items: OrderItemDto[];

  @ApiProperty({
    type: 'integer',
    format: 'int64',
    minimum: 0,
    // 100 items of 1,000 at 1,000,000,000 cents each: the most an order can total.
    maximum: 100_000_000_000_000,
    description: 'Sum of quantity x unitPriceCents, integer cents',
    example: 3998,
  })
  totalCents: number;

  @ApiProperty({ type: String, nullable: true, maxLength: 500 })
  note: string | null;

  @ApiProperty(metadataSchema())
  metadata: OrderMetadata;

  @ApiProperty({ format: 'date-time', maxLength: 24 })
  createdAt: string;

  @ApiProperty({
    type: String,
    format: 'date-time',
    maxLength: 24,
    nullable: true,
    description: 'When a payment webhook paid it; null while unpaid',
  })
  paidAt: string | null;
}

export class OrderPage {
  @ApiProperty({ type: [OrderView], maxItems: 100 })
  data: OrderView[];

  @ApiProperty({
    type: String,
    nullable: true,
    maxLength: 200,
    description: 'Pass as `cursor` for the next page; null on the last',
  })
  nextCursor: string | null;
}

/**
 * A typical answer to a create, as the idempotency storage keeps it (status, stored headers, body).
 * Stored responses are compressed against its text (EntryCodec), so that the field names and fixed
 * text every order repeats cost a back-reference instead of their bytes. Changing it makes the
 * responses stored before it unreadable: misses, which the orders table then answers.
 */
export const SAMPLE_CREATED_ORDER = {
  status: 201,
  headers: {
    location: '/orders/00000000-0000-4000-8000-000000000000',
    etag: '"1"',
  },
  body: {
    id: '00000000-0000-4000-8000-000000000000',
    status: 'created',
    currency: 'USD',
    items: [{ sku: 'SKU-1', quantity: 1, unitPriceCents: 1000 }],
    totalCents: 1000,
    note: null,
    metadata: {},
    createdAt: '2026-01-01T00:00:00.000Z',
    paidAt: null,
  } satisfies OrderView,
};
