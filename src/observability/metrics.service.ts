import { Inject, Injectable } from '@nestjs/common';
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
} from 'prom-client';
import type { Pool } from 'pg';
import { PG_POOL } from '../database/pg-pool.module';
import { REDIS_CONNECTION } from '../redis/redis.module';
import { isRedisReady } from '../redis/redis-connection';
import type { RedisConnection } from '../redis/redis-connection';
import type { IdempotencyOutcome } from '../idempotency';
import { tagRequest } from './request-tags';

/** The Prometheus registry of this process, served at GET /metrics. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  private readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  private readonly outcomes = new Counter({
    name: 'orders_idempotency_outcomes_total',
    help: 'Idempotent request outcomes: created, replayed (stored response), resolved (found by the handler), conflict_in_flight, key_reused, degraded',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly webhooks = new Counter({
    name: 'orders_payment_webhook_outcomes_total',
    help: 'Verified payment webhook events by outcome (paid, already_paid, duplicate_payment, amount_mismatch, order_cancelled, unknown_order, payment_failed, ignored) and whether the webhook-id was a duplicate',
    labelNames: ['outcome', 'duplicate'] as const,
    registers: [this.registry],
  });

  constructor(
    @Inject(PG_POOL) pool: Pool,
    @Inject(REDIS_CONNECTION) redis: RedisConnection,
  ) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'orders_db_pool_connections',
      help: 'Postgres pool connections by state (total, idle, waiting = requests queued for one)',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    });
    new Gauge({
      name: 'orders_redis_connected',
      help: '1 while the Redis connection is ready, else 0',
      registers: [this.registry],
      collect() {
        this.set(isRedisReady(redis) ? 1 : 0);
      },
    });
  }

  observeRequest(
    method: string,
    route: string,
    status: number,
    seconds: number,
  ): void {
    this.httpDuration.observe(
      { method, route, status: String(status) },
      seconds,
    );
  }

  recordWebhook(outcome: string, duplicate: boolean): void {
    this.webhooks.inc({ outcome, duplicate: String(duplicate) });
  }

  /** Counts the outcome and tags the request's log line with it. */
  recordOutcome(request: unknown, outcome: IdempotencyOutcome): void {
    this.outcomes.inc({ outcome });
    tagRequest(
      request,
      outcome === 'degraded'
        ? { idempotencyDegraded: true }
        : { idempotency: outcome },
    );
  }
}
