import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import type { Pool } from 'pg';
import { PG_POOL } from '../database/pg-pool.module';
import { MetricsService } from '../observability/metrics.service';
import { SELECT_BACKLOG } from './order-events.sql';

/** The outbox as Prometheus sees it: the backlog (read at each scrape) and what the relay did. */
@Injectable()
export class EventsMetrics {
  private readonly publishedTotal: Counter;
  private readonly failuresTotal: Counter;
  private readonly parkedTotal: Counter;

  constructor(metrics: MetricsService, @Inject(PG_POOL) pool: Pool) {
    const registers = [metrics.registry];
    this.publishedTotal = new Counter({
      name: 'orders_events_published_total',
      help: 'Order events the stream acknowledged (duplicates included: it holds them)',
      registers,
    });
    this.failuresTotal = new Counter({
      name: 'orders_events_publish_failures_total',
      help: 'Order event publishes that did not succeed: NATS away, the stream full, or the event refused (each stays pending and is retried)',
      registers,
    });
    this.parkedTotal = new Counter({
      name: 'orders_events_parked_total',
      help: 'Order events parked after EVENTS_MAX_PUBLISH_ATTEMPTS refused publishes (npm run events:parked)',
      registers,
    });
    // One query feeds both gauges; a scrape while the database is away shows the last values.
    let backlog = { pending: 0, oldest_seconds: 0 };
    const read = async () => {
      const { rows } = await pool.query<typeof backlog>(SELECT_BACKLOG);
      backlog = rows[0] ?? backlog;
    };
    new Gauge({
      name: 'orders_events_pending',
      help: 'Order events in the outbox not yet acknowledged by the stream',
      registers,
      async collect() {
        await read().catch(() => undefined);
        this.set(backlog.pending);
      },
    });
    new Gauge({
      name: 'orders_events_oldest_pending_seconds',
      help: 'Age of the oldest order event not yet acknowledged by the stream (0 when none)',
      registers,
      collect() {
        this.set(backlog.oldest_seconds);
      },
    });
  }

  published(count: number): void {
    if (count > 0) this.publishedTotal.inc(count);
  }

  failed(count: number): void {
    if (count > 0) this.failuresTotal.inc(count);
  }

  parked(count: number): void {
    if (count > 0) this.parkedTotal.inc(count);
  }
}
