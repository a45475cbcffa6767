import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import {
  IDEMPOTENCY_MODULE_OPTIONS,
  IdempotencyConfigurableModule,
} from './idempotency.module-definition';
import { IdempotencyModuleOptions } from './idempotency-options.interface';
import { IdempotencyStorage } from './storage/idempotency-storage.interface';
import {
  chooseStorage,
  IdempotencyStartupChecks,
} from './idempotency-startup-checks';

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
  imports: [DiscoveryModule],
  providers: [
    IdempotencyInterceptor,
    IdempotencyStartupChecks,
    {
      provide: IdempotencyStorage,
      inject: [IDEMPOTENCY_MODULE_OPTIONS],
      // The in-memory default is refused under NODE_ENV=production (one line, at start-up).
      useFactory: (options: IdempotencyModuleOptions) => chooseStorage(options),
    },
  ],
  exports: [
    IdempotencyInterceptor,
    IdempotencyStorage,
    IDEMPOTENCY_MODULE_OPTIONS,
  ],
})
export class IdempotencyModule extends IdempotencyConfigurableModule {}
