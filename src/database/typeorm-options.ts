import { basename, dirname, join } from 'node:path';
import pg from 'pg';
import { DataSourceOptions } from 'typeorm';
import { DatabaseConfig } from '../config/database.config';
import { OrderChangeEntity } from '../orders/order-change.entity';
import { OrderEntity } from '../orders/order.entity';
import { PaymentEventEntity } from '../payments/payment-event.entity';
import { ReplicationGuardedClient } from './replication-guarded-client';

/**
 * Where the migrations are: compiled to dist/migrations by `npm run build`, found from the bundle
 * (dist/main.js, scripts/bundle.ts) or from this file unbundled (dist/database/, the migration CLI);
 * under Jest, migrations/*.ts.
 */
function migrationsGlob(): string {
  if (!__filename.endsWith('.js'))
    return join(__dirname, '..', '..', 'migrations', '*.ts');
  const dist =
    basename(__filename) === 'main.js' ? __dirname : dirname(__dirname);
  return join(dist, 'migrations', '*.js');
}

/** The one TypeORM options builder, used by the app (TypeOrmModule) and the migration CLI. */
export function buildTypeOrmOptions(config: DatabaseConfig): DataSourceOptions {
  const migrations = migrationsGlob();
  return {
    type: 'postgres',
    // The app's own pg: left to itself, TypeORM loads it by name at run time, which the bundle cannot
    // see (scripts/bundle.ts), so a second copy came from node_modules.
    driver: pg,
    url: config.url,
    entities: [OrderEntity, OrderChangeEntity, PaymentEventEntity],
    migrations: [migrations],
    migrationsRun: config.migrationsRun,
    migrationsTransactionMode: 'each',
    synchronize: false,
    poolSize: config.poolSize,
    connectTimeoutMS: config.connectTimeoutMs,
    extra: {
      // Startup parameters, which a transaction pooler refuses ("unsupported startup parameter"):
      // behind one, the same values are the role's defaults instead (applyRoleTimeouts).
      ...(config.pooler === 'none' && {
        // Bound every wait so a database that stops answering becomes a 503, never a hung client.
        statement_timeout: config.statementTimeoutMs,
        // A statement waiting on a table lock (a non-concurrent CREATE INDEX, a long ALTER) gives
        // up quickly and frees its connection, instead of filling the pool and starving reads.
        lock_timeout: config.lockTimeoutMs,
      }),
      query_timeout: config.statementTimeoutMs + 1000,
      // No commit acknowledged on a cancelled synchronous wait; a read-only node's connection dropped.
      Client: ReplicationGuardedClient,
      // A primary that vanished without a FIN (a cut network, a fenced host) is noticed by the
      // kernel within seconds, not the two hours of Linux's default, even on an idle pooled client.
      keepAlive: true,
      keepAliveInitialDelayMillis: 5000,
      idleTimeoutMillis: 30000,
      connectionTimeoutMillis: config.connectTimeoutMs,
      application_name: 'orders',
    },
  };
}
