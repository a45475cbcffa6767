import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { isUniqueViolationOf, OrderNotFoundError } from '../common/errors';
import {
  IdempotencyContext,
  IdempotencyKeyReusedException,
} from '../idempotency';
import { CreateOrderDto } from './dto/create-order.dto';
import { OrderPage, OrderView } from './dto/order.view';
import { decodeCursor, encodeCursor } from './order-cursor';
import { ORDERS_IDEMPOTENCY_CONSTRAINT, OrderEntity } from './order.entity';
import { TestFaults } from './test-faults';

export interface CreateOrderResult {
  order: OrderView;
  /** True when the key had already created this order: the caller is retrying. */
  replayed: boolean;
}

@Injectable()
export class OrdersService {
  constructor(
    @InjectRepository(OrderEntity)
    private readonly orders: Repository<OrderEntity>,
    private readonly faults: TestFaults,
  ) {}

  /**
   * Inserts the order; the unique (user_id, idempotency_key) index decides between racing retries.
   * The loser's insert waits for the winner's commit, fails with 23505, and resolves to the winner's
   * order. That holds without Redis, so no path can create a second order for one key.
   */
  async create(
    userId: string,
    dto: CreateOrderDto,
    idempotency: IdempotencyContext,
  ): Promise<CreateOrderResult> {
    const order = this.orders.create({
      userId,
      idempotencyKey: idempotency.key,
      requestFingerprint: idempotency.fingerprint,
      status: 'created',
      currency: dto.currency,
      items: dto.items.map(({ sku, quantity, unitPriceCents }) => ({
        sku,
        quantity,
        unitPriceCents,
      })),
      totalCents: totalCents(dto).toString(),
      note: dto.note ?? null,
    });
    await this.faults.beforeInsert();
    try {
      await this.orders.insert(order);
      this.faults.afterInsert();
      return { order: toView(order), replayed: false };
    } catch (error) {
      if (!isUniqueViolationOf(error, ORDERS_IDEMPOTENCY_CONSTRAINT))
        throw error;
      return this.resolveExisting(userId, idempotency);
    }
  }

  async findOne(userId: string, id: string): Promise<OrderView> {
    const order = await this.orders.findOneBy({ id, userId });
    if (!order) throw new OrderNotFoundError();
    return toView(order);
  }

  /** Newest first, keyset-paginated on (created_at, id) so pages never skip or repeat rows. */
  async list(
    userId: string,
    limit: number,
    cursor?: string,
  ): Promise<OrderPage> {
    const query = this.orders
      .createQueryBuilder('o')
      .where('o.user_id = :userId', { userId })
      .orderBy('o.created_at', 'DESC')
      .addOrderBy('o.id', 'DESC')
      .limit(limit + 1);
    if (cursor !== undefined) {
      const after = decodeCursor(cursor);
      query.andWhere('(o.created_at, o.id) < (:createdAt, :id)', {
        createdAt: after.createdAt,
        id: after.id,
      });
    }
    const rows = await query.getMany();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      data: page.map(toView),
      nextCursor:
        rows.length > limit && last
          ? encodeCursor({ createdAt: last.createdAt, id: last.id })
          : null,
    };
  }

  /** Cancelling twice is the same as once: the second call finds the order already cancelled. */
  async cancel(userId: string, id: string): Promise<OrderView> {
    await this.orders
      .createQueryBuilder()
      .update()
      .set({
        status: 'cancelled',
        cancelledAt: () => 'COALESCE(cancelled_at, now())',
      })
      .where('id = :id AND user_id = :userId', { id, userId })
      .execute();
    return this.findOne(userId, id);
  }

  private async resolveExisting(
    userId: string,
    idempotency: IdempotencyContext,
  ): Promise<CreateOrderResult> {
    const existing = await this.orders.findOneBy({
      userId,
      idempotencyKey: idempotency.key,
    });
    if (!existing)
      throw new Error(
        'unique violation on the idempotency key, but no order holds the key',
      );
    if (existing.requestFingerprint !== idempotency.fingerprint)
      throw new IdempotencyKeyReusedException();
    return { order: toView(existing), replayed: true };
  }
}

function totalCents(dto: CreateOrderDto): bigint {
  return dto.items.reduce(
    (sum, item) => sum + BigInt(item.quantity) * BigInt(item.unitPriceCents),
    0n,
  );
}

function toView(order: OrderEntity): OrderView {
  return {
    id: order.id,
    status: order.status,
    currency: order.currency,
    items: order.items,
    totalCents: Number(order.totalCents),
    note: order.note,
    createdAt: order.createdAt.toISOString(),
  };
}
