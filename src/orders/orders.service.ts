import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { eventsConfig } from '../config';
import {
  isUniqueViolationOf,
  OrderAlreadyPaidError,
  OrderNotFoundError,
  PreconditionFailedError,
} from '../common/errors';
import { insertOnce } from '../idempotency';
import type { IdempotencyContext } from '../idempotency';
import { CreateOrderDto } from './dto/create-order.dto';
import { OrderPage } from './dto/order.view';
import { decodeCursor, encodeCursor } from './order-cursor';
import { ORDERS_IDEMPOTENCY_CONSTRAINT } from './order.entity';
import {
  CANCEL_ORDER,
  CANCEL_ORDER_WITH_EVENT,
  etagOf,
  INSERT_ORDER,
  INSERT_ORDER_WITH_EVENT,
  OrderRevision,
  OrderRow,
  SELECT_FIRST_PAGE,
  SELECT_NEXT_PAGE,
  SELECT_ORDER,
  SELECT_ORDER_BY_KEY,
  toRevision,
  toView,
} from './orders.sql';
import { OutboxRelay } from '../events/outbox-relay';
import { OrdersDatabase } from './orders-database';
import { TestFaults } from './test-faults';

@Injectable()
export class OrdersService {
  private readonly insertOrder: string;
  private readonly cancelOrder: string;

  constructor(
    private readonly database: OrdersDatabase,
    private readonly faults: TestFaults,
    private readonly outbox: OutboxRelay,
    @Inject(eventsConfig.KEY) events: ConfigType<typeof eventsConfig>,
  ) {
    // With events on, each change writes its event in the same statement (the outbox).
    const announce = events.natsServers.length > 0;
    this.insertOrder = announce ? INSERT_ORDER_WITH_EVENT : INSERT_ORDER;
    this.cancelOrder = announce ? CANCEL_ORDER_WITH_EVENT : CANCEL_ORDER;
  }

  /**
   * Inserts the order once: the unique (user_id, idempotency_key) index decides between racing
   * retries. The loser's insert waits for the winner's commit, fails with 23505, and resolves to the
   * winner's order (insertOnce marks it replayed). That holds without Redis, so no path can create a
   * second order for one key.
   */
  create(
    userId: string,
    dto: CreateOrderDto,
    idempotency: IdempotencyContext,
  ): Promise<OrderRevision> {
    return insertOnce(idempotency, {
      insert: () => this.insert(userId, dto, idempotency),
      isDuplicateKey: (error) =>
        isUniqueViolationOf(error, ORDERS_IDEMPOTENCY_CONSTRAINT),
      loadExisting: async () => {
        const [existing] = await this.database.query<OrderRow>(
          SELECT_ORDER_BY_KEY,
          [userId, idempotency.key],
        );
        // A replay is the original response, on this path as on Redis's: the order as it was
        // created (version 1), even if it was changed, cancelled or paid since. The same fingerprint
        // means the same body, so the note and metadata it was created with are the retry's.
        // GET tells its current state.
        return existing
          ? {
              fingerprint: existing.request_fingerprint ?? '',
              result: toRevision({
                ...existing,
                status: 'created',
                paid_at: null,
                note: dto.note ?? null,
                metadata: dto.metadata ?? {},
                version: 1,
              }),
            }
          : undefined;
      },
    });
  }

  private async insert(
    userId: string,
    dto: CreateOrderDto,
    idempotency: IdempotencyContext,
  ): Promise<OrderRevision> {
    const items = dto.items.map(({ sku, quantity, unitPriceCents }) => ({
      sku,
      quantity,
      unitPriceCents,
    }));
    const note = dto.note ?? null;
    const metadata = dto.metadata ?? {};
    const total = totalCents(dto).toString();
    await this.faults.beforeInsert();
    const [inserted] = await this.database.write<
      Pick<OrderRow, 'id' | 'created_at' | 'version'>
    >(this.insertOrder, [
      userId,
      idempotency.key,
      idempotency.fingerprint,
      dto.currency,
      JSON.stringify(items),
      total,
      note,
      JSON.stringify(metadata),
    ]);
    this.outbox.written();
    this.faults.afterInsert();
    return toRevision({
      ...inserted,
      status: 'created',
      currency: dto.currency,
      items,
      total_cents: total,
      note,
      metadata,
    });
  }

  async findOne(userId: string, id: string): Promise<OrderRevision> {
    const [row] = await this.database.query<OrderRow>(SELECT_ORDER, [
      id,
      userId,
    ]);
    if (!row) throw new OrderNotFoundError();
    return toRevision(row);
  }

  /** Newest first, keyset-paginated on (created_at, id) so pages never skip or repeat rows. */
  async list(
    userId: string,
    limit: number,
    cursor?: string,
  ): Promise<OrderPage> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = after
      ? await this.database.query<OrderRow>(SELECT_NEXT_PAGE, [
          userId,
          limit + 1,
          after.createdAt,
          after.id,
        ])
      : await this.database.query<OrderRow>(SELECT_FIRST_PAGE, [
          userId,
          limit + 1,
        ]);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      data: page.map(toView),
      nextCursor:
        rows.length > limit && last
          ? encodeCursor({ createdAt: new Date(last.created_at), id: last.id })
          : null,
    };
  }

  /**
   * Cancelling twice is the same as once: the second call finds the order already cancelled.
   * `versions`: what If-Match names (undefined without one, or with `*`).
   */
  async cancel(
    userId: string,
    id: string,
    versions?: number[],
  ): Promise<OrderRevision> {
    const [cancelled] = await this.database.write<OrderRow>(this.cancelOrder, [
      id,
      userId,
      versions ?? null,
    ]);
    if (cancelled) {
      this.outbox.written();
      return toRevision(cancelled);
    }
    const [order] = await this.database.query<OrderRow>(SELECT_ORDER, [
      id,
      userId,
    ]);
    if (!order) throw new OrderNotFoundError();
    if (order.status === 'cancelled') return toRevision(order);
    if (order.status === 'paid') throw new OrderAlreadyPaidError();
    throw new PreconditionFailedError(etagOf(order.version));
  }
}

function totalCents(dto: CreateOrderDto): bigint {
  return dto.items.reduce(
    (sum, item) => sum + BigInt(item.quantity) * BigInt(item.unitPriceCents),
    0n,
  );
}
