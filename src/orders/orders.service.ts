import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { createHash } from 'node:crypto';
import type { Pool, QueryResultRow } from 'pg';
import {
  isUniqueViolationOf,
  OrderAlreadyPaidError,
  OrderNotFoundError,
} from '../common/errors';
import { insertOnce } from '../idempotency';
import type { IdempotencyContext } from '../idempotency';
import { CreateOrderDto } from './dto/create-order.dto';
import { OrderPage, OrderView } from './dto/order.view';
import { decodeCursor, encodeCursor } from './order-cursor';
import { ORDERS_IDEMPOTENCY_CONSTRAINT } from './order.entity';
import {
  CANCEL_ORDER,
  INSERT_ORDER,
  OrderRow,
  SELECT_FIRST_PAGE,
  SELECT_NEXT_PAGE,
  SELECT_ORDER,
  SELECT_ORDER_BY_KEY,
  SELECT_ORDER_STATUS,
  toView,
} from './orders.sql';
import { TestFaults } from './test-faults';
import { databaseConfig } from '../config';
import { PG_POOL } from '../database/pg-pool.module';
import { WriteBulkhead, writeSlotsFor } from '../database/write-bulkhead';

/** Writes queued for a slot at once; past it a create answers 503 at once (retry-safe). */
const MAX_WAITING_WRITES = 1000;

@Injectable()
export class OrdersService {
  /** Writes never hold the whole pool: a table that blocks writes leaves reads their connections. */
  private readonly writes: WriteBulkhead;
  private readonly preparedStatements: boolean;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly faults: TestFaults,
    @Inject(databaseConfig.KEY) database: ConfigType<typeof databaseConfig>,
  ) {
    this.preparedStatements = database.preparedStatements;
    this.writes = new WriteBulkhead(
      writeSlotsFor(database.poolSize),
      database.connectTimeoutMs,
      MAX_WAITING_WRITES,
    );
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
  ): Promise<OrderView> {
    return insertOnce(idempotency, {
      insert: () => this.insert(userId, dto, idempotency),
      isDuplicateKey: (error) =>
        isUniqueViolationOf(error, ORDERS_IDEMPOTENCY_CONSTRAINT),
      loadExisting: async () => {
        const [existing] = await this.query<OrderRow>(SELECT_ORDER_BY_KEY, [
          userId,
          idempotency.key,
        ]);
        // A replay is the original response, on this path as on Redis's: the order as it was
        // created (status "created"), even if it was cancelled since. GET tells its current state.
        return existing
          ? {
              fingerprint: existing.request_fingerprint ?? '',
              result: toView({ ...existing, status: 'created' }),
            }
          : undefined;
      },
    });
  }

  private async insert(
    userId: string,
    dto: CreateOrderDto,
    idempotency: IdempotencyContext,
  ): Promise<OrderView> {
    const items = dto.items.map(({ sku, quantity, unitPriceCents }) => ({
      sku,
      quantity,
      unitPriceCents,
    }));
    const note = dto.note ?? null;
    const total = totalCents(dto).toString();
    await this.faults.beforeInsert();
    const [inserted] = await this.write<Pick<OrderRow, 'id' | 'created_at'>>(
      INSERT_ORDER,
      [
        userId,
        idempotency.key,
        idempotency.fingerprint,
        dto.currency,
        JSON.stringify(items),
        total,
        note,
      ],
    );
    this.faults.afterInsert();
    return toView({
      ...inserted,
      status: 'created',
      currency: dto.currency,
      items,
      total_cents: total,
      note,
    });
  }

  async findOne(userId: string, id: string): Promise<OrderView> {
    const [row] = await this.query<OrderRow>(SELECT_ORDER, [id, userId]);
    if (!row) throw new OrderNotFoundError();
    return toView(row);
  }

  /** Newest first, keyset-paginated on (created_at, id) so pages never skip or repeat rows. */
  async list(
    userId: string,
    limit: number,
    cursor?: string,
  ): Promise<OrderPage> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = after
      ? await this.query<OrderRow>(SELECT_NEXT_PAGE, [
          userId,
          limit + 1,
          after.createdAt,
          after.id,
        ])
      : await this.query<OrderRow>(SELECT_FIRST_PAGE, [userId, limit + 1]);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      data: page.map(toView),
      nextCursor:
        rows.length > limit && last
          ? encodeCursor({ createdAt: last.created_at, id: last.id })
          : null,
    };
  }

  /** Cancelling twice is the same as once: the second call finds the order already cancelled. */
  async cancel(userId: string, id: string): Promise<OrderView> {
    const rows = await this.write<OrderRow>(CANCEL_ORDER, [id, userId]);
    if (rows[0]) return toView(rows[0]);
    const [order] = await this.query<Pick<OrderRow, 'status'>>(
      SELECT_ORDER_STATUS,
      [id, userId],
    );
    throw order?.status === 'paid'
      ? new OrderAlreadyPaidError()
      : new OrderNotFoundError();
  }

  private write<T>(sql: string, values: unknown[]): Promise<T[]> {
    return this.writes.run(() => this.query<T>(sql, values));
  }

  /**
   * Straight to TypeORM's pg pool, as a named (prepared) statement: each connection parses and plans
   * each query once, which saves Postgres CPU on the same cores as the app. Behind a transaction
   * pooler (DB_PREPARED_STATEMENTS=false) unnamed: a statement prepared on one server connection
   * would be missing, or already exist, on the next.
   */
  private async query<T>(sql: string, values: unknown[]): Promise<T[]> {
    const result = await this.pool.query<T & QueryResultRow>({
      name: this.preparedStatements ? statementName(sql) : undefined,
      text: sql,
      values,
    });
    return result.rows;
  }
}

const statementNames = new Map<string, string>();

function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = `orders_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
    statementNames.set(sql, name);
  }
  return name;
}

function totalCents(dto: CreateOrderDto): bigint {
  return dto.items.reduce(
    (sum, item) => sum + BigInt(item.quantity) * BigInt(item.unitPriceCents),
    0n,
  );
}
