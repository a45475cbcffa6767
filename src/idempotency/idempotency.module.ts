import { Module } from '@nestjs/common';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import {
  IDEMPOTENCY_MODULE_OPTIONS,
  IdempotencyConfigurableModule,
} from './idempotency.module-definition';
import { IdempotencyModuleOptions } from './idempotency-options.interface';
import { IdempotencyStorage } from './storage/idempotency-storage.interface';
import { InMemoryIdempotencyStorage } from './storage/in-memory.storage';

/**
 * Registers the idempotency interceptor and its storage (global by default).
 *
 * @example
 * IdempotencyModule.forRootAsync({
 *   inject: [ConfigService],
 *   useFactory: (config) => ({ storage: new RedisIdempotencyStorage(client), ttlSeconds: 86400 }),
 * })
 */
@Module({
  providers: [
    IdempotencyInterceptor,
    {
      provide: IdempotencyStorage,
      inject: [IDEMPOTENCY_MODULE_OPTIONS],
      useFactory: (options: IdempotencyModuleOptions) =>
        options.storage ?? new InMemoryIdempotencyStorage(),
    },
  ],
  exports: [
    IdempotencyInterceptor,
    IdempotencyStorage,
    IDEMPOTENCY_MODULE_OPTIONS,
  ],
})
export class IdempotencyModule extends IdempotencyConfigurableModule {}
