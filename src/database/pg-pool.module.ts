import { Global, Module } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { PrimaryTimeline } from './primary-timeline';

/** DI token of the pg Pool behind TypeORM's DataSource. */
export const PG_POOL = Symbol('PG_POOL');

/**
 * Hands out TypeORM's own pg Pool (PostgresDriver's public `master`), so that there is one pool and
 * one connection budget. The order queries use it directly: written-out SQL sent as named prepared
 * statements, which TypeORM's query builder cannot do, and which halved Postgres's parse and plan
 * work on cores it shares with the app (see docs/performance.md).
 */
@Global()
@Module({
  providers: [
    PrimaryTimeline,
    {
      provide: PG_POOL,
      inject: [getDataSourceToken()],
      useFactory: (dataSource: DataSource): Pool => {
        const driver = dataSource.driver;
        if (!(driver instanceof PostgresDriver))
          throw new Error('the orders service runs on Postgres only');
        return driver.master as Pool;
      },
    },
  ],
  exports: [PG_POOL, PrimaryTimeline],
})
export class PgPoolModule {}
