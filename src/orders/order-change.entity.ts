import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
} from 'typeorm';

/** Name of the unique index that makes a retried PATCH resolve to the first one's answer. */
export const ORDER_CHANGES_IDEMPOTENCY_CONSTRAINT =
  'order_changes_user_id_idempotency_key_uq';

/**
 * One PATCH sent with an Idempotency-Key, recorded in the transaction that applied it (migration
 * OrderVersionsAndChanges1764800000000): the database's answer to a retry when Redis has none.
 */
@Entity({ name: 'order_changes' })
export class OrderChangeEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 128 })
  userId: string;

  @Column({ name: 'idempotency_key', type: 'varchar', length: 255 })
  idempotencyKey: string;

  @Column({ name: 'request_fingerprint', type: 'char', length: 64 })
  requestFingerprint: string;

  @Column({ name: 'order_id', type: 'uuid' })
  orderId: string;

  /** The answer it gave: `{ etag, order }`; set before the transaction commits. */
  @Column({ type: 'jsonb', nullable: true })
  response: { etag: string; order: unknown } | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;
}
