import { HttpException, Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import pg from 'pg';
import type {
  Pool,
  PoolClient,
  QueryConfig,
  QueryResult,
  QueryResultRow,
} from 'pg';
import { databaseConfig } from '../config';
import { checkOut } from '../database/checked-out-client';
import { ISO_TIMESTAMP_TYPES } from '../database/iso-timestamps';
import { PG_POOL } from '../database/pg-pool.module';
import { statementName } from '../database/statement-name';
import { WriteBulkhead, writeSlotsFor } from '../database/write-bulkhead';

/** Writes queued for a slot at once; past it a write answers 503 at once (retry-safe). */
const MAX_WAITING_WRITES = 1000;

/**
 * How the orders module talks to Postgres: straight to TypeORM's pg pool, reads freely, writes (one
 * statement or a transaction) under a bulkhead, so that a table that blocks writes leaves reads their
 * connections.
 */
@Injectable()
export class OrdersDatabase {
  private readonly writes: WriteBulkhead;
  private readonly preparedStatements: boolean;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(databaseConfig.KEY) database: ConfigType<typeof databaseConfig>,
  ) {
    this.preparedStatements = database.preparedStatements;
    this.writes = new WriteBulkhead(
      writeSlotsFor(database.poolSize),
      database.connectTimeoutMs,
      MAX_WAITING_WRITES,
    );
  }

  async query<T>(sql: string, values: unknown[]): Promise<T[]> {
    const query = new pg.Query({
      text: sql,
      values,
      types: ISO_TIMESTAMP_TYPES,
    });
    (query as { name?: string }).name = this.nameOf(sql);
    const result = await submitToPool<T & QueryResultRow>(this.pool, query);
    return result.rows;
  }

  write<T>(sql: string, values: unknown[]): Promise<T[]> {
    return this.writes.run(() => this.query<T>(sql, values));
  }

  /** `work` in one transaction on one connection, under the write bulkhead like every write. */
  transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.writes.run(async () => {
      const { client, release } = await checkOut(this.pool);
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // A rule's refusal (an HttpException) leaves a healthy connection; anything else drops it.
        if (!(error instanceof HttpException)) broken = error as Error;
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        release(broken);
      }
    });
  }

  /** One statement inside `transaction`'s work. */
  async run<T>(
    client: PoolClient,
    sql: string,
    values: unknown[],
  ): Promise<T[]> {
    const result = await client.query<T & QueryResultRow>(
      this.statement(sql, values),
    );
    return result.rows;
  }

  /**
   * A named (prepared) statement: each connection parses and plans each query once, which saves
   * Postgres CPU on the same cores as the app. Behind a transaction pooler
   * (DB_PREPARED_STATEMENTS=false) unnamed: a statement prepared on one server connection would be
   * missing, or already exist, on the next.
   */
  private statement(sql: string, values: unknown[]): QueryConfig {
    // Timestamps arrive as the ISO strings the API shows (OrderRow), not as Dates to format again.
    return {
      name: this.nameOf(sql),
      text: sql,
      values,
      types: ISO_TIMESTAMP_TYPES,
    };
  }

  /** The statement's name when statements are prepared; none behind a transaction pooler. */
  private nameOf(sql: string): string | undefined {
    return this.preparedStatements ? statementName(sql) : undefined;
  }
}

/**
 * A statement on the pool, handed to pg as a query object (a Submittable), not as a config: pg copies
 * a config it is given, every property descriptor of it (`cloneQueryConfig`: 1.5 µs a query in a
 * loop, 8 µs of a read's profile under load), and takes a query object as it is. The pool checks a
 * client out, submits the query on it, releases the client (dropping it on an error) and settles
 * its promise with the query's result, as for a config; its types only lack that promise.
 */
function submitToPool<R extends QueryResultRow>(
  pool: Pool,
  query: pg.Query,
): Promise<QueryResult<R>> {
  return (pool.query as (query: pg.Query) => Promise<QueryResult<R>>).call(
    pool,
    query,
  );
}
