import { Global, Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import type { Params } from 'nestjs-pino';
import pino from 'pino';
import { operationsConfig } from '../config';
import { AdminServer } from './admin-server';
import { MetricsService } from './metrics.service';

/**
 * pino through nestjs-pino, for the application's own logs. The one line per request is written by
 * the Fastify onResponse hook in app.setup.ts (see logRequest), not by pino-http's autoLogging.
 */
function loggerOptions(operations: ConfigType<typeof operationsConfig>) {
  return {
    pinoHttp: [
      { level: operations.logLevel, autoLogging: false, quietReqLogger: true },
      // Buffered, asynchronous writes to stdout (flushed on exit): a synchronous write per request
      // line showed up in the create path's profile.
      pino.destination({ dest: 1, sync: false, minLength: 4096 }),
    ] as Params['pinoHttp'],
    // No per-request middleware: the request line comes from the Fastify hook.
    forRoutes: [],
  };
}

@Global()
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [operationsConfig.KEY],
      useFactory: loggerOptions,
    }),
  ],
  providers: [MetricsService, AdminServer],
  exports: [MetricsService, AdminServer],
})
export class ObservabilityModule {}
