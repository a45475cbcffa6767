import 'reflect-metadata';
import { ConfigType } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import { configureApp, createFastifyAdapter } from './app.setup';
import {
  appConfig,
  InvalidEnvironmentError,
  validateEnvironment,
} from './config';

async function bootstrap(): Promise<void> {
  validateEnvironment();
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule,
    createFastifyAdapter(),
    {
      abortOnError: false,
    },
  );
  configureApp(app);
  const { port, host } = app.get<ConfigType<typeof appConfig>>(appConfig.KEY);
  await app.listen(port, host);
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
