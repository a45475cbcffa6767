import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigService, ConfigType } from '@nestjs/config';
import { DataSource } from 'typeorm';
import { REDIS_COMMANDER } from './redis/redis.module';
import type { RedisScripting } from './redis/redis-commander';
import { NestFactory } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger, PinoLogger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { NatsBroker } from './nats/nats-broker';
import { DatabaseIndicator } from './health/database.indicator';
import { AdminServer } from './observability/admin-server';
import { BootQuietLogger } from './observability/boot-quiet.logger';
import { APP_OPTIONS, configureApp, createFastifyAdapter } from './app.setup';
import {
  appConfig,
  eventsConfig,
  paymentsConfig,
  validateEnvironment,
} from './config';
import { rawDatabaseUrl, readDatabaseConfig } from './config/database.config';
import { migrationsAppliedAtStartup } from './database/run-migrations';
import { describeStartupFailure, portProblem } from './startup-failure';
import { readHttpServerLimits, readTrustProxy } from './config/app.config';

async function bootstrap(): Promise<void> {
  validateEnvironment();
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule,
    createFastifyAdapter(readTrustProxy(), readHttpServerLimits()),
    {
      ...APP_OPTIONS,
      abortOnError: false,
      bufferLogs: true,
      logger: ['fatal'],
    },
  );
  app.useLogger(new BootQuietLogger(app.get(Logger)));
  await configureApp(app);
  const config = app.get<ConfigType<typeof appConfig>>(appConfig.KEY);
  let started!: () => void;
  closeOnSignals(app, config, new Promise<void>((done) => (started = done)));
  await app.listen(config.port, config.host).catch((error: unknown) => {
    throw portProblem(error, 'PORT', config.port);
  });
  const adminUrl =
    config.adminPort === 0
      ? undefined
      : await app
          .get(AdminServer)
          .listen()
          .catch((error: unknown) => {
            throw portProblem(error, 'ADMIN_PORT', config.adminPort);
          });
  // The shutdown test's window: a signal between listening and the end of start-up.
  if (config.testFault.kind === 'delay-after-listen')
    await sleep(config.testFault.ms);
  await logStartup(app, adminUrl);
  started();
}

/** "2 migrations applied (9 in the schema)", "schema up to date (9 migrations)", or without a run of its own. */
function describeMigrations(inSchema: number): string {
  const applied = migrationsAppliedAtStartup.count;
  if (applied === undefined) return `${inSchema} migrations in the schema`;
  return applied === 0
    ? `schema up to date (${inSchema} migrations)`
    : `${applied} migration${applied > 1 ? 's' : ''} applied (${inSchema} in the schema)`;
}

/** One line once up: where it listens, the docs, the schema's migrations, and whether Redis answered. */
async function logStartup(
  app: NestFastifyApplication,
  adminUrl: string | undefined,
): Promise<void> {
  const url = (await app.getUrl()).replace('[::1]', 'localhost');
  // Not ready until the schema is there: the line says how to put it there.
  const schemaProblem = await app.get(DatabaseIndicator).schemaProblem();
  const migrations =
    schemaProblem ??
    (await app
      .get(DataSource)
      .query<{ n: number }[]>('SELECT count(*)::int AS n FROM migrations')
      .then(({ 0: { n } }) => describeMigrations(n))
      .catch(() => 'migrations table not readable'));
  const redis = app.get(ConfigService).getOrThrow<{ mode: string }>('redis');
  const redisState = await app
    .get<RedisScripting>(REDIS_COMMANDER)
    .sendCommand(['PING'])
    .then(
      () => 'answering',
      () => 'not answering (serving without it)',
    );
  const secrets = app.get<ConfigType<typeof paymentsConfig>>(paymentsConfig.KEY)
    .webhookSecrets.length;
  const webhooks =
    secrets > 0
      ? `payment webhooks on (${secrets} secret${secrets > 1 ? 's' : ''})`
      : 'payment webhooks off (PAYMENT_WEBHOOK_SECRETS unset: they answer 503)';
  const events = app.get<ConfigType<typeof eventsConfig>>(eventsConfig.KEY);
  const natsAnswers =
    events.natsServers.length > 0 && (await app.get(NatsBroker).answers());
  const eventsState =
    events.natsServers.length === 0
      ? 'events off (NATS_URL empty)'
      : natsAnswers
        ? `events on (stream ${events.stream} at ${events.natsServers.join(',')})`
        : `events on, NATS at ${events.natsServers.join(',')} not answering (NATS_URL): events wait in the outbox`;
  const docs = app.get<ConfigType<typeof appConfig>>(appConfig.KEY).docsEnabled
    ? `docs ${url}/docs`
    : 'docs off';
  app
    .get(Logger)
    .log(
      `orders listening on ${url} (${docs}, ${adminUrl ? `metrics ${adminUrl}/metrics` : 'admin server off'}); ` +
        `${migrations}; Redis ${redis.mode} ${redisState}; ${webhooks}; ${eventsState}`,
      'Startup',
    );
  // JSON logs are written in 4 KiB batches (see ObservabilityModule): without a flush, a quiet
  // instance would hold its start-up line back until enough requests had been logged after it.
  PinoLogger.root.flush();
}

/**
 * SIGTERM/SIGINT: readiness turns 503 for SHUTDOWN_GRACE_MS, then the server stops accepting, requests
 * in flight finish, and the Postgres pool and Redis close (Nest's shutdown hooks). The process then
 * exits 0 because nothing is left open; if something hangs past the timeout it exits 1 instead.
 * A signal during start-up closes once start-up is done: a step still under way (the admin server's
 * listen, the start-up line's probe) would otherwise open what the hooks had already closed, and keep
 * the process alive (seen once, on a loaded machine).
 */
function closeOnSignals(
  app: NestFastifyApplication,
  config: ConfigType<typeof appConfig>,
  started: Promise<void>,
): void {
  const close = (signal: NodeJS.Signals) => {
    console.log(`orders: ${signal} received, shutting down`);
    process.removeListener('SIGTERM', close).removeListener('SIGINT', close);
    setTimeout(() => {
      // What kept the process alive names the hook or connection that did not close.
      const open = process.getActiveResourcesInfo().join(', ');
      console.error(
        `orders: shutdown timed out, exiting; still open: ${open || 'nothing'}`,
      );
      process.exit(1);
    }, config.shutdownGraceMs + config.shutdownTimeoutMs).unref();
    const from = Date.now();
    void started
      .then(() => app.close())
      .then(() =>
        console.log(`orders: closed in ${Date.now() - from} ms, exiting`),
      )
      .catch((error: unknown) => {
        console.error('orders: shutdown failed:', error);
        process.exit(1);
      });
  };
  process.once('SIGTERM', close).once('SIGINT', close);
}

/** DB_CONNECT_TIMEOUT_MS for a failure message; its default when the variable itself is the problem. */
function configuredConnectTimeoutMs(): number {
  try {
    return readDatabaseConfig().connectTimeoutMs;
  } catch {
    return 3000;
  }
}

bootstrap().catch((error: unknown) => {
  // An operator's mistake (a bad variable, a missing database) gets one line saying what to fix,
  // no stack trace; anything else is a bug and keeps its stack.
  const known = describeStartupFailure(error, {
    url: rawDatabaseUrl(),
    connectTimeoutMs: configuredConnectTimeoutMs(),
  });
  if (known) console.error(known);
  else console.error('orders failed to start:', error);
  process.exit(1);
});
