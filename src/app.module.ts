import { Module } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from './auth/auth.module';
import { AuthenticatedRequest } from './auth/authenticated-user';
import {
  allConfigs,
  databaseConfig,
  isTestRun,
  idempotencyConfig,
  redisConfig,
} from './config';
import { buildTypeOrmOptions } from './database/typeorm-options';
import { applyRoleTimeouts } from './database/role-timeouts';
import { runMigrationsExclusively } from './database/run-migrations';
import { PgPoolModule } from './database/pg-pool.module';
import { PrimaryTimeline } from './database/primary-timeline';
import { isPermanentDatabaseError } from './startup-failure';
import { HealthModule } from './health/health.module';
import {
  IdempotencyOutcome,
  IdempotencyModule,
  RedisIdempotencyStorage,
} from './idempotency';
import { MetricsService } from './observability/metrics.service';
import { ObservabilityModule } from './observability/observability.module';
import { OrdersModule } from './orders/orders.module';
import { SAMPLE_CREATED_ORDER } from './orders/dto/order.view';
import { EventsModule } from './events/events.module';
import { PaymentsModule } from './payments/payments.module';
import { ThrottlingModule } from './throttling/throttling.module';
import { REDIS_COMMANDER, RedisModule } from './redis/redis.module';
import type { RedisScripting } from './redis/redis-commander';

@Module({
  imports: [
    ConfigModule.forRoot({
      isGlobal: true,
      ignoreEnvFile: isTestRun(),
      load: allConfigs,
    }),
    TypeOrmModule.forRootAsync({
      inject: [databaseConfig.KEY],
      // Migrations run here, one instance at a time, before the app's own pool opens.
      useFactory: async (database: ConfigType<typeof databaseConfig>) => {
        // First, so that every server session the pooler opens from here on (the migrator's too)
        // starts with them.
        if (database.pooler === 'transaction')
          await applyRoleTimeouts(database);
        if (database.migrationsRun) await runMigrationsExclusively(database);
        return {
          ...buildTypeOrmOptions({ ...database, migrationsRun: false }),
          // A missing database or wrong password is not fixed by waiting: fail at once.
          retryAttempts: 3,
          retryDelay: 1000,
          toRetry: (error: unknown) => !isPermanentDatabaseError(error),
        };
      },
    }),
    PgPoolModule,
    ScheduleModule.forRoot(),
    RedisModule,
    ObservabilityModule,
    IdempotencyModule.forRootAsync({
      inject: [
        idempotencyConfig.KEY,
        redisConfig.KEY,
        REDIS_COMMANDER,
        MetricsService,
        PrimaryTimeline,
      ],
      useFactory: (
        config: ConfigType<typeof idempotencyConfig>,
        redisSettings: ConfigType<typeof redisConfig>,
        redis: RedisScripting,
        metrics: MetricsService,
        timeline: PrimaryTimeline,
      ) => ({
        ttlSeconds: config.ttlSeconds,
        lockTtlMs: config.lockTtlMs,
        lockLeaseMs: config.lockLeaseMs,
        storageTimeoutMs: redisSettings.commandTimeoutMs,
        // Entries stored before a failover are not served: the new primary may not have their orders.
        keyPrefix: () => timeline.keyPrefix(),
        scope: (request: unknown) => (request as AuthenticatedRequest).user?.id,
        // A replay sends the first answer's Location (creates) and ETag (every order answer).
        storedHeaders: ['location', 'etag'],
        storage: new RedisIdempotencyStorage(redis, {
          sampleResponse: SAMPLE_CREATED_ORDER,
          compressResponses: config.compressResponses,
          encryptionKeys: config.encryptionKeys,
        }),
        onOutcome: (outcome: IdempotencyOutcome, request: unknown) =>
          metrics.recordOutcome(request, outcome),
      }),
    }),
    ThrottlingModule,
    AuthModule,
    OrdersModule,
    PaymentsModule,
    EventsModule,
    HealthModule,
  ],
})
export class AppModule {}
