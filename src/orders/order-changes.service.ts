import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { eventsConfig } from '../config';
import type { PoolClient } from 'pg';
import { type EntityTag, strongMatch } from '../common/entity-tags';
import {
  isUniqueViolationOf,
  OrderNoteFrozenError,
  OrderNotFoundError,
  PreconditionFailedError,
  ValidationFailedError,
} from '../common/errors';
import { insertOnce } from '../idempotency';
import type { IdempotencyContext } from '../idempotency';
import { UpdateOrderDto } from './dto/update-order.dto';
import { ORDER_CHANGES_IDEMPOTENCY_CONSTRAINT } from './order-change.entity';
import {
  METADATA_MAX_KEYS,
  mergeMetadata,
  type OrderMetadata,
} from './order-metadata';
import {
  etagOf,
  INSERT_ORDER_CHANGE,
  LOCK_ORDER_FOR_CHANGE,
  OrderRevision,
  OrderRow,
  SELECT_ORDER_CHANGE,
  SET_ORDER_CHANGE_RESPONSE,
  toRevision,
  UPDATE_ORDER_FIELDS,
  UPDATE_ORDER_FIELDS_WITH_EVENT,
} from './orders.sql';
import { OutboxRelay } from '../events/outbox-relay';
import { OrdersDatabase } from './orders-database';

/** PATCH: merge patches of an order's note and metadata, under If-Match, retry-safe with a key. */
@Injectable()
export class OrderChangesService {
  private readonly updateFields: string;

  constructor(
    private readonly database: OrdersDatabase,
    private readonly outbox: OutboxRelay,
    @Inject(eventsConfig.KEY) events: ConfigType<typeof eventsConfig>,
  ) {
    // With events on, a change writes its `updated` event in the same statement (the outbox).
    this.updateFields =
      events.natsServers.length > 0
        ? UPDATE_ORDER_FIELDS_WITH_EVENT
        : UPDATE_ORDER_FIELDS;
  }

  /**
   * Applies a merge patch if `ifMatch` names the order's current version. With a key, the key is
   * claimed in the same transaction and the answer stored with it: a retry, concurrent or late, with
   * Redis or without, gets the first answer (insertOnce), never a second application.
   */
  update(
    userId: string,
    id: string,
    patch: UpdateOrderDto,
    ifMatch: EntityTag[],
    idempotency?: IdempotencyContext,
  ): Promise<OrderRevision> {
    const apply = (client: PoolClient) =>
      this.applyPatch(client, userId, id, patch, ifMatch);
    if (!idempotency) return this.committed(this.database.transaction(apply));
    const { key, fingerprint } = idempotency;
    return insertOnce(idempotency, {
      insert: () =>
        this.committed(
          this.database.transaction(async (client) => {
            await this.database.run(client, INSERT_ORDER_CHANGE, [
              userId,
              key,
              fingerprint,
              id,
            ]);
            const revision = await apply(client);
            await this.database.run(client, SET_ORDER_CHANGE_RESPONSE, [
              userId,
              key,
              JSON.stringify(revision),
            ]);
            return revision;
          }),
        ),
      isDuplicateKey: (error) =>
        isUniqueViolationOf(error, ORDER_CHANGES_IDEMPOTENCY_CONSTRAINT),
      loadExisting: async () => {
        const [change] = await this.database.query<{
          request_fingerprint: string;
          response: OrderRevision;
        }>(SELECT_ORDER_CHANGE, [userId, key]);
        return (
          change && {
            fingerprint: change.request_fingerprint,
            result: change.response,
          }
        );
      },
    });
  }

  /**
   * The rules: If-Match first (412), then the note, which changes only while the order is created
   * (fulfilment may have acted on it); metadata changes in every state. A patch that changes
   * nothing keeps the version (the ETag names the representation, which is unchanged).
   */
  private async applyPatch(
    client: PoolClient,
    userId: string,
    id: string,
    patch: UpdateOrderDto,
    ifMatch: EntityTag[],
  ): Promise<OrderRevision> {
    const [row] = await this.database.run<OrderRow>(
      client,
      LOCK_ORDER_FOR_CHANGE,
      [id, userId],
    );
    if (!row) throw new OrderNotFoundError();
    if (!strongMatch(ifMatch, etagOf(row.version)))
      throw new PreconditionFailedError(etagOf(row.version));
    const note = patch.note === undefined ? row.note : patch.note;
    if (note !== row.note && row.status !== 'created')
      throw new OrderNoteFrozenError(row.status);
    const metadata =
      patch.metadata === undefined
        ? row.metadata
        : mergeMetadata(row.metadata, patch.metadata);
    const keys = Object.keys(metadata).length;
    if (keys > METADATA_MAX_KEYS)
      throw new ValidationFailedError([
        {
          field: 'metadata',
          message: `the order would have ${keys} metadata keys; at most ${METADATA_MAX_KEYS} are allowed`,
        },
      ]);
    if (note === row.note && sameMetadata(metadata, row.metadata))
      return toRevision(row);
    const [updated] = await this.database.run<OrderRow>(
      client,
      this.updateFields,
      [id, userId, note, JSON.stringify(metadata)],
    );
    return toRevision(updated);
  }

  /** A patch that committed may have written an `updated` event: the relay hears of it. */
  private async committed<T>(transaction: Promise<T>): Promise<T> {
    const result = await transaction;
    this.outbox.written();
    return result;
  }
}

function sameMetadata(a: OrderMetadata, b: OrderMetadata): boolean {
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length &&
    keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key])
  );
}
