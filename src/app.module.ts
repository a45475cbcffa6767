import { Module } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import KeyvRedis from '@keyv/redis';
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
import { REDIS_STORE, RedisModule } from './redis/redis.module';

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
    RedisModule,
    IdempotencyModule.forRootAsync({
      inject: [idempotencyConfig.KEY, REDIS_STORE],
      useFactory: (
        config: ConfigType<typeof idempotencyConfig>,
        store: KeyvRedis<unknown>,
      ) => ({
        ttlSeconds: config.ttlSeconds,
        lockTtlMs: config.lockTtlMs,
        lockLeaseMs: config.lockLeaseMs,
        storageTimeoutMs: config.redisTimeoutMs,
        scope: (request: unknown) => (request as AuthenticatedRequest).user?.id,
        storage: new RedisIdempotencyStorage(
          store.client as unknown as RedisCommander,
        ),
      }),
    }),
    AuthModule,
    OrdersModule,
    HealthModule,
  ],
})
export class AppModule {}
