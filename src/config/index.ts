export { appConfig } from './app.config';
export { authConfig } from './auth.config';
export { databaseConfig } from './database.config';
export { eventsConfig } from './events.config';
export { idempotencyConfig } from './idempotency.config';
export { loggingConfig } from './logging.config';
export { paymentsConfig, WEBHOOK_TOLERANCE_SECONDS } from './payments.config';
export { redisConfig } from './redis.config';
export { throttleConfig } from './throttle.config';
export {
  InvalidEnvironmentError,
  InvalidEnvironmentErrors,
  isTestRun,
} from './env';
import { existsSync } from 'node:fs';
import {
  collectInvalidVariables,
  InvalidEnvironmentErrors,
  isTestRun,
} from './env';

import { appConfig } from './app.config';
import { authConfig } from './auth.config';
import { databaseConfig } from './database.config';
import { eventsConfig } from './events.config';
import { idempotencyConfig } from './idempotency.config';
import { loggingConfig } from './logging.config';
import { paymentsConfig } from './payments.config';
import { redisConfig } from './redis.config';
import { throttleConfig } from './throttle.config';

export const allConfigs = [
  appConfig,
  authConfig,
  databaseConfig,
  eventsConfig,
  idempotencyConfig,
  loggingConfig,
  paymentsConfig,
  redisConfig,
  throttleConfig,
];

/**
 * Reads every namespace once, so that bad variables fail before Nest starts: throws
 * InvalidEnvironmentErrors naming every invalid variable, one line each.
 */
export function validateEnvironment(): void {
  const invalid = collectInvalidVariables(allConfigs);
  if (invalid.length === 0) return;
  if (
    !isTestRun() &&
    !existsSync('.env') &&
    REQUIRED.every((name) =>
      invalid.some(
        (error) =>
          error.message === `Invalid environment variable ${name}: must be set`,
      ),
    )
  )
    throw new MissingEnvFileError();
  throw new InvalidEnvironmentErrors(invalid);
}

/** The variables without a default: none set and no .env means a first run, not a typo. */
const REQUIRED = ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET'];

/** A first run: one line saying how to make a configuration, instead of three "must be set". */
export class MissingEnvFileError extends InvalidEnvironmentErrors {
  constructor() {
    super([]);
    this.message = `no .env found in ${process.cwd()} and none of ${REQUIRED.join(', ')} is set: copy .env.example to .env (cp .env.example .env) and set JWT_SECRET in it`;
  }
}
