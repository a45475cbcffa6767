import { ApiProperty } from '@nestjs/swagger';
import {
  IsInt,
  IsISO8601,
  IsObject,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';

/** The event types the receiver acts on; any other type is acknowledged and ignored. */
export const PAYMENT_EVENT_TYPES = [
  'payment.succeeded',
  'payment.failed',
] as const;
export type PaymentEventType = (typeof PAYMENT_EVENT_TYPES)[number];

export class PaymentDataDto {
  @ApiProperty({ example: 'pay_7Hq2', minLength: 1, maxLength: 128 })
  @IsString()
  @Length(1, 128)
  paymentId: string;

  @ApiProperty({ format: 'uuid', minLength: 36, maxLength: 36 })
  @IsUUID()
  orderId: string;

  @ApiProperty({
    type: 'integer',
    format: 'int64',
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
    example: 3998,
    description: 'Integer cents',
  })
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  amountCents: number;

  @ApiProperty({
    example: 'USD',
    pattern: '^[A-Z]{3}$',
    minLength: 3,
    maxLength: 3,
  })
  @IsString()
  @Matches(/^[A-Z]{3}$/, { message: 'currency must be 3 uppercase letters' })
  currency: string;
}

/** Every event's envelope: a type, when it happened, and its data. */
export class WebhookEnvelopeDto {
  @ApiProperty({
    example: 'payment.succeeded',
    description: `${PAYMENT_EVENT_TYPES.join(' or ')}; other types are acknowledged with outcome "ignored"`,
    minLength: 1,
    maxLength: 128,
  })
  @IsString()
  @Length(1, 128)
  type: string;

  @ApiProperty({
    format: 'date-time',
    example: '2026-11-29T12:00:00Z',
    maxLength: 40,
  })
  @IsISO8601({ strict: true })
  @MaxLength(40)
  timestamp: string;

  @ApiProperty({ type: PaymentDataDto })
  @IsObject()
  data: Record<string, unknown>;
}

/** What the receiver did with an event; every verified, well-formed event gets one. */
export const WEBHOOK_OUTCOMES = [
  'paid',
  'already_paid',
  'duplicate_payment',
  'payment_reused',
  'amount_mismatch',
  'order_cancelled',
  'unknown_order',
  'payment_failed',
  'ignored',
] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];

export class WebhookReceiptDto {
  @ApiProperty({ enum: [true] })
  received: true;

  @ApiProperty({
    description:
      "True when this webhook-id was processed before: nothing changed now, and `outcome` is the first delivery's",
  })
  duplicate: boolean;

  @ApiProperty({
    enum: WEBHOOK_OUTCOMES,
    description:
      'paid: the order is now paid. already_paid: the same paymentId under a new webhook-id. ' +
      'duplicate_payment: a second, different payment for a paid order (recorded for a refund). ' +
      'payment_reused: this paymentId already paid another order; this order stays unpaid (recorded). ' +
      "amount_mismatch: amount or currency differ from the order's total (recorded, order unchanged). " +
      'order_cancelled: paid after cancellation (recorded for a refund). unknown_order: no such order. ' +
      'payment_failed: recorded; a paid order stays paid. ignored: an event type the receiver does not act on.',
  })
  outcome: WebhookOutcome;
}
