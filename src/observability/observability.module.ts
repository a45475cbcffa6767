import { Global, Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import type { Params } from 'nestjs-pino';
import pino from 'pino';
import { loggingConfig } from '../config';
import { AdminServer } from './admin-server';
import { MetricsService } from './metrics.service';

/**
 * pino through nestjs-pino, for the application's own logs. The one line per request is written by
 * the Fastify onResponse hook in app.setup.ts (see logRequest), not by pino-http's autoLogging;
 * pino-http stays installed only because nestjs-pino declares it as a peer dependency.
 */
function loggerOptions(logging: ConfigType<typeof loggingConfig>) {
  return {
    pinoHttp: [
      { level: logging.level, autoLogging: false, quietReqLogger: true },
      logging.format === 'pretty'
        ? // Human-readable, in a worker thread (pino's transport), for a developer at a terminal.
          pino.transport({
            target: 'pino-pretty',
            options: {
              destination: 1,
              ignore: 'pid,hostname',
              singleLine: true,
            },
          })
        : // Buffered, asynchronous writes to stdout (flushed on exit): a synchronous write per
          // request line showed up in the create path's profile.
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
      inject: [loggingConfig.KEY],
      useFactory: loggerOptions,
    }),
  ],
  providers: [MetricsService, AdminServer],
  exports: [MetricsService, AdminServer],
})
export class ObservabilityModule {}
