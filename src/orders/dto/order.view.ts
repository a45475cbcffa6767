import { ApiProperty } from '@nestjs/swagger';
import type { OrderStatus } from '../order.entity';
import { OrderItemDto } from './create-order.dto';

/** The order as the API shows it. */
export class OrderView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ enum: ['created', 'cancelled', 'paid'] })
  status: OrderStatus;

  @ApiProperty({ example: 'USD' })
  currency: string;

  @ApiProperty({ type: [OrderItemDto] })
  items: OrderItemDto[];

  @ApiProperty({
    type: 'integer',
    description: 'Sum of quantity x unitPriceCents, integer cents',
    example: 3998,
  })
  totalCents: number;

  @ApiProperty({ type: String, nullable: true })
  note: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When a payment webhook paid it; null while unpaid',
  })
  paidAt: string | null;
}

export class OrderPage {
  @ApiProperty({ type: [OrderView] })
  data: OrderView[];

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `cursor` for the next page; null on the last',
  })
  nextCursor: string | null;
}
