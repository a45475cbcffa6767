import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** One verified webhook delivery, recorded once under its webhook id (migration Payments1764600000000). */
@Entity({ name: 'payment_events' })
export class PaymentEventEntity {
  @PrimaryColumn({ name: 'webhook_id', type: 'varchar', length: 255 })
  webhookId: string;

  @Column({ type: 'varchar', length: 128 })
  type: string;

  @Column({ name: 'payment_id', type: 'varchar', length: 128, nullable: true })
  paymentId: string | null;

  @Column({ name: 'order_id', type: 'uuid', nullable: true })
  orderId: string | null;

  /** bigint: node-postgres returns it as a string. */
  @Column({ name: 'amount_cents', type: 'bigint', nullable: true })
  amountCents: string | null;

  @Column({ type: 'char', length: 3, nullable: true })
  currency: string | null;

  @Column({ type: 'varchar', length: 32 })
  outcome: string;

  @CreateDateColumn({ name: 'received_at', type: 'timestamptz', precision: 3 })
  receivedAt: Date;
}
