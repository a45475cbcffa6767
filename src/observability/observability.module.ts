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
/** Buffered JSON lines reach stdout at least this often, so a quiet instance's lines are not held back. */
export const LOG_FLUSH_INTERVAL_MS = 1000;
/** pino's level numbers: warn and above are written at once. */
const WARN_LEVEL = 40;

/**
 * JSON lines on stdout, written in batches (a synchronous write per request line showed up in the
 * create path's profile) that never wait long: a warning or an error flushes the batch at once, and
 * a timer flushes whatever else is pending every LOG_FLUSH_INTERVAL_MS. A crash or a SIGKILL thus
 * loses at most the last second of info lines, never a warning.
 */
function jsonDestination(): {
  stream: pino.DestinationStream;
  flushAtOnce: NonNullable<pino.LoggerOptions['hooks']>['logMethod'];
} {
  const stream = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => stream.flush(), LOG_FLUSH_INTERVAL_MS).unref();
  return {
    stream,
    flushAtOnce(args, method, level) {
      method.apply(this, args);
      if (level >= WARN_LEVEL) stream.flush();
    },
  };
}

function loggerOptions(logging: ConfigType<typeof loggingConfig>) {
  const options = {
    level: logging.level,
    autoLogging: false,
    quietReqLogger: true,
  };
  if (logging.format === 'pretty')
    return {
      pinoHttp: [
        options,
        // Human-readable, in a worker thread (pino's transport), for a developer at a terminal.
        pino.transport({
          target: 'pino-pretty',
          options: { destination: 1, ignore: 'pid,hostname', singleLine: true },
        }),
      ] as Params['pinoHttp'],
      forRoutes: [],
    };
  const json = jsonDestination();
  return {
    pinoHttp: [
      { ...options, hooks: { logMethod: json.flushAtOnce } },
      json.stream,
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
