import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Client } from 'pg';
import { appConfig, databaseConfig } from '../config';

const PING_TIMEOUT_MS = 1500;

/**
 * Postgres for readiness, on a connection of its own: a pool busy with slow requests (a locked
 * table, a burst) says nothing about whether the database is up, and readiness must not turn 503 on
 * every instance at once because of it. Concurrent checks share one probe, and its answer is reused
 * for HEALTH_CACHE_MS.
 */
@Injectable()
export class DatabaseIndicator implements OnApplicationShutdown {
  private client: Client | undefined;
  private last: { at: number; error?: string } | undefined;
  private probing: Promise<string | undefined> | undefined;

  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(databaseConfig.KEY)
    private readonly config: ConfigType<typeof databaseConfig>,
    @Inject(appConfig.KEY)
    private readonly app: ConfigType<typeof appConfig>,
  ) {}

  async check(key: string) {
    const indicator = this.indicators.check(key);
    const error = await this.probeCached();
    return error ? indicator.down({ message: error }) : indicator.up();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client?.end().catch(() => undefined);
  }

  private async probeCached(): Promise<string | undefined> {
    if (this.last && Date.now() - this.last.at < this.app.healthCacheMs)
      return this.last.error;
    this.probing ??= this.probe().finally(() => (this.probing = undefined));
    return this.probing;
  }

  /** undefined when Postgres answered `SELECT 1` in time, else why not. */
  private async probe(): Promise<string | undefined> {
    let error: string | undefined;
    try {
      this.client ??= await this.connect();
      await this.client.query('SELECT 1');
    } catch (cause) {
      error = `Postgres did not answer: ${(cause as Error).message}`;
      const broken = this.client;
      this.client = undefined;
      void broken?.end().catch(() => undefined);
    }
    this.last = { at: Date.now(), error };
    return error;
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
