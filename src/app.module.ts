import { Module } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from './auth/auth.module';
import { AuthenticatedRequest } from './auth/authenticated-user';
import { allConfigs, databaseConfig, idempotencyConfig } from './config';
import { buildTypeOrmOptions } from './database/typeorm-options';
import { HealthModule } from './health/health.module';
import {
  IdempotencyModule,
  RedisCommander,
  RedisIdempotencyStorage,
} from './idempotency';
import { OrdersModule } from './orders/orders.module';
import { REDIS_COMMANDER, RedisModule } from './redis/redis.module';

@Module({
  imports: [
    ConfigModule.forRoot({
      isGlobal: true,
      ignoreEnvFile: process.env.NODE_ENV === 'test',
      load: allConfigs,
    }),
    TypeOrmModule.forRootAsync({
      inject: [databaseConfig.KEY],
      useFactory: (database: ConfigType<typeof databaseConfig>) =>
        buildTypeOrmOptions(database),
    }),
    ScheduleModule.forRoot(),
    RedisModule,
    IdempotencyModule.forRootAsync({
      inject: [idempotencyConfig.KEY, REDIS_COMMANDER],
      useFactory: (
        config: ConfigType<typeof idempotencyConfig>,
        redis: RedisCommander,
      ) => ({
        ttlSeconds: config.ttlSeconds,
        lockTtlMs: config.lockTtlMs,
        lockLeaseMs: config.lockLeaseMs,
        storageTimeoutMs: config.redisTimeoutMs,
        scope: (request: unknown) => (request as AuthenticatedRequest).user?.id,
        storage: new RedisIdempotencyStorage(redis),
      }),
    }),
    AuthModule,
    OrdersModule,
    HealthModule,
  ],
})
export class AppModule {}
