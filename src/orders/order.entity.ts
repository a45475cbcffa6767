import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
} from 'typeorm';

export type OrderStatus = 'created' | 'cancelled' | 'paid';

export interface OrderItem {
  sku: string;
  quantity: number;
  unitPriceCents: number;
}

/** Name of the unique index that makes a retried create resolve to the first order. */
export const ORDERS_IDEMPOTENCY_CONSTRAINT =
  'orders_user_id_idempotency_key_uq';

@Entity({ name: 'orders' })
export class OrderEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 128 })
  userId: string;

  @Column({
    name: 'idempotency_key',
    type: 'varchar',
    length: 255,
    nullable: true,
  })
  idempotencyKey: string | null;

  @Column({
    name: 'request_fingerprint',
    type: 'char',
    length: 64,
    nullable: true,
  })
  requestFingerprint: string | null;

  @Column({ type: 'varchar', length: 16 })
  status: OrderStatus;

  @Column({ type: 'char', length: 3 })
  currency: string;

  @Column({ type: 'jsonb' })
  items: OrderItem[];

  /**
   * bigint: node-postgres returns it as a string. The API renders it as a JSON number, which stays
   * exact: the largest possible total (100 items x 1,000 x 1e9 cents = 1e14) is far below 2^53.
   */
  @Column({ name: 'total_cents', type: 'bigint' })
  totalCents: string;

  @Column({ type: 'varchar', length: 500, nullable: true })
  note: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Column({
    name: 'cancelled_at',
    type: 'timestamptz',
    precision: 3,
    nullable: true,
  })
  cancelledAt: Date | null;

  @Column({
    name: 'paid_at',
    type: 'timestamptz',
    precision: 3,
    nullable: true,
  })
  paidAt: Date | null;

  /** Incremented by every change (create = 1, cancel, payment, PATCH): the order's ETag. */
  @Column({ type: 'integer', default: 1 })
  version: number;

  /** The client's own references: at most 50 string values (see order-metadata.ts). */
  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" })
  metadata: Record<string, string>;

  /** The payment that paid it (the provider's id): a second, different one is a duplicate payment. */
  @Column({ name: 'payment_id', type: 'varchar', length: 128, nullable: true })
  paymentId: string | null;
}
