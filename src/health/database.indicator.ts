import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { sqlState } from '../common/errors';
import { appConfig, databaseConfig } from '../config';

const UNDEFINED_TABLE = '42P01';
/** What an operator reads when the schema is not there (DB_MIGRATIONS_RUN=false and no migration job yet). */
export const SCHEMA_MISSING = 'schema missing: run npm run migration:run';

const PING_TIMEOUT_MS = 1500;

/**
 * Postgres for readiness, on a connection of its own, which must take writes (a primary): a pool busy with slow requests (a locked
 * table, a burst) says nothing about whether the database is up, and readiness must not turn 503 on
 * every instance at once because of it. Concurrent checks share one probe, and its answer is reused
 * for HEALTH_CACHE_MS. Until every migration of this build is found applied, the probe checks the
 * schema too: an instance started with DB_MIGRATIONS_RUN=false on an empty database is not ready
 * (every order route would answer 500), and becomes ready once the migrations are run.
 */
@Injectable()
export class DatabaseIndicator implements OnApplicationShutdown {
  private client: Client | undefined;
  private last: { at: number; error?: string } | undefined;
  private probing: Promise<string | undefined> | undefined;
  private schemaComplete = false;
  private closed = false;

  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(databaseConfig.KEY)
    private readonly config: ConfigType<typeof databaseConfig>,
    @Inject(appConfig.KEY)
    private readonly app: ConfigType<typeof appConfig>,
    private readonly dataSource: DataSource,
  ) {}

  /** Why the schema cannot serve this build (probing now), or undefined when it can. */
  async schemaProblem(): Promise<string | undefined> {
    const error = await this.probeShared();
    return error?.startsWith('schema') ? error : undefined;
  }

  async check(key: string) {
    const indicator = this.indicators.check(key);
    const error = await this.probeCached();
    return error ? indicator.down({ message: error }) : indicator.up();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    // A probe under way would otherwise set a client after this ended it.
    await this.probing;
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }

  private async probeCached(): Promise<string | undefined> {
    if (this.last && Date.now() - this.last.at < this.app.healthCacheMs)
      return this.last.error;
    return this.probeShared();
  }

  /**
   * One probe at a time: two at once (the start-up line's and a health check's, on a loaded machine)
   * each connected a client, and the one overwritten was never ended.
   */
  private probeShared(): Promise<string | undefined> {
    this.probing ??= this.probe().finally(() => (this.probing = undefined));
    return this.probing;
  }

  /** undefined when Postgres answered in time with this build's schema in place, else why not. */
  private async probe(): Promise<string | undefined> {
    let error: string | undefined;
    try {
      if (this.closed) throw new Error('shutting down');
      this.client ??= await this.connect();
      if (await this.readOnly(this.client))
        throw new Error(
          'it is read-only (a standby, or a demoted primary): no primary is answering',
        );
      if (!this.schemaComplete) error = await this.checkSchema(this.client);
    } catch (cause) {
      error = `Postgres did not answer: ${(cause as Error).message}`;
      const broken = this.client;
      this.client = undefined;
      void broken?.end().catch(() => undefined);
    }
    this.last = { at: Date.now(), error };
    return error;
  }

  /**
   * A node that cannot take writes is no database for this service: during a failover the address
   * may still lead to the old primary, demoted, or to a standby. Not ready until a primary answers.
   */
  private async readOnly(client: Client): Promise<boolean> {
    const { rows } = await client.query<{ read_only: string }>(
      "SELECT current_setting('transaction_read_only') AS read_only",
    );
    return rows[0].read_only === 'on';
  }

  private async checkSchema(client: Client): Promise<string | undefined> {
    const expected = this.dataSource.migrations.map(
      (migration) => migration.name ?? migration.constructor.name,
    );
    try {
      const { rows } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM migrations WHERE name = ANY($1)',
        [expected],
      );
      const pending = expected.length - rows[0].n;
      if (pending > 0)
        return `${SCHEMA_MISSING} (${pending} of this build's ${expected.length} migrations not applied)`;
    } catch (cause) {
      if (sqlState(cause) === UNDEFINED_TABLE) return SCHEMA_MISSING;
      throw cause;
    }
    this.schemaComplete = true;
    return undefined;
  }

  private async connect(): Promise<Client> {
    const client = new Client({
      connectionString: this.config.url,
      connectionTimeoutMillis: Math.min(
        this.config.connectTimeoutMs,
        PING_TIMEOUT_MS,
      ),
      query_timeout: PING_TIMEOUT_MS,
      application_name: 'orders-readiness',
    });
    client.on('error', () => (this.client = undefined));
    await client.connect();
    return client;
  }
}
