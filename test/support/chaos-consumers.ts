import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StreamedEvent } from './chaos-events.ts';
import type { OrderRow } from './chaos.ts';
import {
  type ConsumerProcess,
  startConsumerProcess,
} from './consumer-process.ts';
import { NatsAckDropper } from './nats-ack-dropper.ts';
import type { NatsCluster } from './nats-server.ts';
import { TcpProxy } from './tcp-proxy.ts';

export interface ConsumersOptions {
  cluster: NatsCluster;
  stream: string;
  /** The fulfilment service's own database (its tables are created by the processes). */
  databaseUrl: string;
  processes: number;
  /** Share of the consumers' acknowledgements lost on the way to NATS. */
  dropAcks: number;
  random: () => number;
}

/** The last hop's verdict, from the fulfilment service's database. */
export interface ConsumersVerdict {
  /** Event ids in the inbox: each is there once (its primary key). */
  applied: number;
  /** Events on the stream the inbox lacks, and inbox ids that are not on the stream. */
  missing: number;
  unknown: number;
  shipments: number;
  /** Orders whose shipments or applied events are wrong: a paid order without exactly one shipment, a shipment for an unpaid one, events applied out of sequence. */
  problems: string[];
  deadLettered: number;
  /** Redeliveries the consumers found in their inbox (reported by the processes that stopped cleanly). */
  duplicatesSkipped: number;
  acksDropped: number;
  /** From the end of the stream's drain until the last event was applied. */
  appliedMs: number;
}

const DURABLE = 'fulfilment';

/**
 * examples/fulfilment as the pipeline's last hop: `processes` consumer processes sharing one durable
 * consumer, each reaching NATS through proxies that lose acknowledgements and its Postgres through a
 * proxy the run can cut; SIGKILLed and restarted mid-run.
 */
export class FulfilmentConsumers {
  private readonly processes: ConsumerProcess[] = [];
  private readonly droppers: NatsAckDropper[];
  private readonly postgres: TcpProxy[];
  private readonly db: pg.Client;
  private readonly options: ConsumersOptions;
  private duplicatesSkipped = 0;

  private constructor(
    options: ConsumersOptions,
    droppers: NatsAckDropper[],
    postgres: TcpProxy[],
    db: pg.Client,
  ) {
    this.options = options;
    this.droppers = droppers;
    this.postgres = postgres;
    this.db = db;
  }

  static async start(options: ConsumersOptions): Promise<FulfilmentConsumers> {
    const droppers = await Promise.all(
      options.cluster.nodes.map((node) =>
        NatsAckDropper.start(node.url, options.dropAcks, options.random),
      ),
    );
    const postgres = await Promise.all(
      Array.from({ length: options.processes }, () =>
        TcpProxy.start(options.databaseUrl),
      ),
    );
    const db = new pg.Client({ connectionString: options.databaseUrl });
    await db.connect();
    const consumers = new FulfilmentConsumers(options, droppers, postgres, db);
    try {
      for (let i = 0; i < options.processes; i++)
        consumers.processes.push(await consumers.startProcess(i));
    } catch (error) {
      await consumers.abort();
      throw error;
    }
    return consumers;
  }

  private startProcess(i: number): Promise<ConsumerProcess> {
    return startConsumerProcess({
      NATS_URL: this.droppers.map((d) => d.url).join(','),
      EVENTS_STREAM: this.options.stream,
      FULFILMENT_DATABASE_URL: this.postgres[i].urlFor(
        this.options.databaseUrl,
      ),
      FULFILMENT_CONSUMER: DURABLE,
      // Lost acknowledgements come back within 5 s, not the default 30; not much shorter, so that
      // work still in hand on a loaded machine is not delivered again as well.
      FULFILMENT_ACK_WAIT_MS: '5000',
    });
  }

  /** The consumers' faults, at shares of the run's progress; each says what it did in `faults`. */
  schedule(faults: string[]): [number, () => Promise<void>][] {
    const kill = (i: number) => async () => {
      await this.processes[i].stop('SIGKILL');
      this.processes[i] = await this.startProcess(i);
      faults.push(`consumer ${i + 1} SIGKILLed while consuming, restarted`);
    };
    return [
      [0.3, kill(0)],
      [
        0.55,
        async () => {
          for (const proxy of this.postgres) proxy.cut();
          await sleep(2000);
          for (const proxy of this.postgres) proxy.restore();
          faults.push("the consumers' Postgres cut for 2 s");
        },
      ],
      [0.7, kill(this.options.processes - 1)],
    ];
  }

  /** Resolves once `total` events are in the inbox (or after 90 s, which the verdict then shows). */
  async waitForApplied(total: number): Promise<void> {
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && (await this.inboxCount()) < total)
      await sleep(100);
  }

  private async inboxCount(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM order_events_inbox WHERE consumer = $1',
      [DURABLE],
    );
    return rows[0].n;
  }

  /** Stops the processes cleanly (SIGTERM), collecting what they counted, and closes the proxies. */
  async stop(): Promise<void> {
    const exits = await Promise.all(this.processes.map((p) => p.stop()));
    for (const exit of exits)
      this.duplicatesSkipped += exit.stats?.duplicates ?? 0;
    await Promise.all(
      [...this.droppers, ...this.postgres].map((p) => p.close()),
    );
    await this.db.end();
  }

  /** For a run that failed half-way: kills the processes, closes the proxies; never throws. */
  async abort(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop('SIGKILL')));
    await Promise.all(
      [...this.droppers, ...this.postgres].map((p) => p.close()),
    ).catch(() => undefined);
    await this.db.end().catch(() => undefined);
  }

  /** Read after stop(): the inbox against the stream, and each order's shipments and applied events. */
  async verdict(
    orders: OrderRow[],
    streamed: StreamedEvent[],
    appliedMs: number,
  ): Promise<ConsumersVerdict> {
    const db = new pg.Client({ connectionString: this.options.databaseUrl });
    await db.connect();
    try {
      const inbox = new Set(
        (
          await db.query<{ event_id: string }>(
            'SELECT event_id FROM order_events_inbox WHERE consumer = $1',
            [DURABLE],
          )
        ).rows.map((r) => r.event_id),
      );
      const onStream = new Set(streamed.map((m) => m.event.id));
      const shipped = await countBy(
        db,
        "SELECT order_id AS key, count(*)::int AS n FROM shipments WHERE status = 'pending' GROUP BY order_id",
      );
      const applied = new Map(
        (
          await db.query<{ order_id: string; sequences: number[] }>(
            'SELECT order_id, array_agg(sequence ORDER BY position) AS sequences FROM fulfilment_log GROUP BY order_id',
          )
        ).rows.map((r) => [r.order_id, r.sequences]),
      );
      const problems: string[] = [];
      for (const order of orders) {
        const shipments = shipped.get(order.id) ?? 0;
        if (shipments !== (order.status === 'paid' ? 1 : 0))
          problems.push(
            `${order.id} (${order.status}): ${shipments} shipments`,
          );
        const sequences = (applied.get(order.id) ?? []).join();
        const expected = Array.from({ length: order.version }, (_, i) => i + 1);
        if (sequences !== expected.join())
          problems.push(
            `${order.id}: applied [${sequences}], not [${expected.join()}]`,
          );
      }
      const deadLetters = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM order_events_dead_letters WHERE consumer = $1',
        [DURABLE],
      );
      return {
        applied: inbox.size,
        missing: [...onStream].filter((id) => !inbox.has(id)).length,
        unknown: [...inbox].filter((id) => !onStream.has(id)).length,
        shipments: [...shipped.values()].reduce((a, b) => a + b, 0),
        problems,
        deadLettered: deadLetters.rows[0].n,
        duplicatesSkipped: this.duplicatesSkipped,
        acksDropped: this.droppers.reduce((n, d) => n + d.acksDropped, 0),
        appliedMs,
      };
    } finally {
      await db.end();
    }
  }
}

async function countBy(
  db: pg.Client,
  sql: string,
): Promise<Map<string, number>> {
  const { rows } = await db.query<{ key: string; n: number }>(sql);
  return new Map(rows.map((r) => [r.key, r.n]));
}

/** The consumers' part of the chaos table. */
export function consumersRows(
  verdict: ConsumersVerdict,
): [string, string | number][] {
  return [
    ['events applied by the consumers (inbox)', verdict.applied],
    [
      'events on the stream not applied / applied but not on the stream',
      `${verdict.missing} / ${verdict.unknown}`,
    ],
    ['shipments', verdict.shipments],
    [
      'orders with wrong shipments or events applied out of sequence',
      verdict.problems.length,
    ],
    ['dead-lettered', verdict.deadLettered],
    ['acknowledgements lost on the way to NATS', verdict.acksDropped],
    [
      'redeliveries found in the inbox (processes that stopped cleanly)',
      verdict.duplicatesSkipped,
    ],
    [
      'all applied after the stream drained',
      `${(verdict.appliedMs / 1000).toFixed(1)} s`,
    ],
  ];
}
