import 'reflect-metadata';
import { ConfigType } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { AdminServer } from './observability/admin-server';
import { configureApp, createFastifyAdapter } from './app.setup';
import {
  appConfig,
  InvalidEnvironmentError,
  validateEnvironment,
} from './config';
import { readHttpServerLimits, readTrustProxy } from './config/app.config';

async function bootstrap(): Promise<void> {
  validateEnvironment();
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule,
    createFastifyAdapter(readTrustProxy(), readHttpServerLimits()),
    { abortOnError: false, bufferLogs: true },
  );
  app.useLogger(app.get(Logger));
  await configureApp(app);
  const config = app.get<ConfigType<typeof appConfig>>(appConfig.KEY);
  closeOnSignals(app, config);
  await app.listen(config.port, config.host);
  await app.get(AdminServer).listen();
}

/**
 * SIGTERM/SIGINT: readiness turns 503 for SHUTDOWN_GRACE_MS, then the server stops accepting, requests
 * in flight finish, and the Postgres pool and Redis close (Nest's shutdown hooks). The process then
 * exits 0 because nothing is left open; if something hangs past the timeout it exits 1 instead.
 */
function closeOnSignals(
  app: NestFastifyApplication,
  config: ConfigType<typeof appConfig>,
): void {
  const close = (signal: NodeJS.Signals) => {
    console.log(`orders: ${signal} received, shutting down`);
    process.removeListener('SIGTERM', close).removeListener('SIGINT', close);
    setTimeout(() => {
      console.error('orders: shutdown timed out, exiting');
      process.exit(1);
    }, config.shutdownGraceMs + config.shutdownTimeoutMs).unref();
    app.close().catch((error: unknown) => {
      console.error('orders: shutdown failed:', error);
      process.exit(1);
    });
  };
  process.once('SIGTERM', close).once('SIGINT', close);
}

bootstrap().catch((error: unknown) => {
  // A bad variable is an operator's mistake: one line naming it, no stack trace.
  const invalidEnv = findInvalidEnvironment(error);
  if (invalidEnv) console.error(invalidEnv.message);
  else console.error('orders failed to start:', error);
  process.exit(1);
});

function findInvalidEnvironment(
  error: unknown,
): InvalidEnvironmentError | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (current instanceof InvalidEnvironmentError) return current;
  }
  return undefined;
}
