import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { eventsConfig } from '../config';
import { PinoLogger } from 'nestjs-pino';
import type { Pool, PoolClient } from 'pg';
import { sqlState, UNIQUE_VIOLATION } from '../common/errors/database-errors';
import { checkOut } from '../database/checked-out-client';
import { OutboxRelay } from '../events/outbox-relay';
import { PG_POOL } from '../database/pg-pool.module';
import { MetricsService } from '../observability/metrics.service';
import type { PaymentDataDto, WebhookOutcome } from './dto/payment-event.dto';
import {
  INSERT_EVENT,
  LOCK_ORDER,
  PAY_ORDER,
  PAY_ORDER_WITH_EVENT,
  SELECT_EVENT_OUTCOME,
  SET_EVENT_OUTCOME,
} from './payments.sql';

/** A delivery whose signature held and whose body is well-formed. */
export interface VerifiedEvent {
  webhookId: string;
  type: string;
  /** Set for the payment types; other types carry data the receiver does not read. */
  payment?: PaymentDataDto;
}

export interface WebhookResult {
  duplicate: boolean;
  outcome: WebhookOutcome;
}

interface LockedOrder {
  status: string;
  currency: string;
  total_cents: string;
  payment_id: string | null;
}

/**
 * Applies each webhook event exactly once. Recording the event (unique webhook id) and changing the
 * order happen in one transaction: a copy of an event already recorded changes nothing and answers
 * the first delivery's outcome; a transaction that fails records nothing, so the provider's
 * redelivery takes effect instead. A paid order is never un-paid, whatever the arrival order.
 */
@Injectable()
export class PaymentsService {
  private readonly payOrder: string;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly metrics: MetricsService,
    private readonly logger: PinoLogger,
    private readonly outbox: OutboxRelay,
    @Inject(eventsConfig.KEY) events: ConfigType<typeof eventsConfig>,
  ) {
    logger.setContext('PaymentWebhooks');
    // With events on, the payment writes the order's `paid` event in the same statement (the outbox).
    this.payOrder =
      events.natsServers.length > 0 ? PAY_ORDER_WITH_EVENT : PAY_ORDER;
  }

  async receive(event: VerifiedEvent): Promise<WebhookResult> {
    const result = await this.record(event);
    this.metrics.recordWebhook(result.outcome, result.duplicate);
    // The event's identity and what happened to it; never its body or signature.
    this.logger.info(
      { webhookId: event.webhookId, type: event.type, ...result },
      'payment webhook',
    );
    return result;
  }

  private async record(event: VerifiedEvent): Promise<WebhookResult> {
    const { client, release } = await checkOut(this.pool);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const { payment } = event;
      const inserted = await client.query(INSERT_EVENT, [
        event.webhookId,
        event.type,
        payment?.paymentId ?? null,
        payment?.orderId ?? null,
        payment?.amountCents ?? null,
        payment?.currency ?? null,
      ]);
      if (inserted.rowCount === 0) {
        await client.query('ROLLBACK');
        return {
          duplicate: true,
          outcome: await this.firstOutcome(client, event),
        };
      }
      const outcome = payment
        ? await this.apply(client, event.type, payment)
        : 'ignored';
      await client.query(SET_EVENT_OUTCOME, [event.webhookId, outcome]);
      await client.query('COMMIT');
      if (outcome === 'paid') this.outbox.written();
      return { duplicate: false, outcome };
    } catch (error) {
      broken = error as Error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      // A connection that failed mid-transaction is dropped, not returned to the pool.
      release(broken);
    }
  }

  private async firstOutcome(
    client: PoolClient,
    event: VerifiedEvent,
  ): Promise<WebhookOutcome> {
    const { rows } = await client.query<{ outcome: WebhookOutcome }>(
      SELECT_EVENT_OUTCOME,
      [event.webhookId],
    );
    return rows[0].outcome;
  }

  private async apply(
    client: PoolClient,
    type: string,
    payment: PaymentDataDto,
  ): Promise<WebhookOutcome> {
    const { rows } = await client.query<LockedOrder>(LOCK_ORDER, [
      payment.orderId,
    ]);
    const order = rows[0];
    if (!order) return 'unknown_order';
    if (type === 'payment.failed') return 'payment_failed';
    if (order.status === 'paid')
      return order.payment_id === payment.paymentId
        ? 'already_paid'
        : 'duplicate_payment';
    if (order.status === 'cancelled') return 'order_cancelled';
    if (
      order.currency !== payment.currency ||
      order.total_cents !== String(payment.amountCents)
    )
      return 'amount_mismatch';
    return this.pay(client, payment);
  }

  /**
   * One payment pays one order (orders_payment_id_key). A payment that already paid another order is
   * caught by the index, not by a prior SELECT: of two webhooks racing to pay two orders with one
   * payment, the second waits on the first's index entry and fails once it commits. The savepoint
   * keeps the event's record of that outcome.
   */
  private async pay(
    client: PoolClient,
    payment: PaymentDataDto,
  ): Promise<WebhookOutcome> {
    await client.query('SAVEPOINT pay');
    try {
      await client.query(this.payOrder, [payment.orderId, payment.paymentId]);
    } catch (error) {
      if (sqlState(error) !== UNIQUE_VIOLATION) throw error;
      await client.query('ROLLBACK TO SAVEPOINT pay');
      return 'payment_reused';
    }
    await client.query('RELEASE SAVEPOINT pay');
    return 'paid';
  }
}
