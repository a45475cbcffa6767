export { appConfig } from './app.config';
export { authConfig } from './auth.config';
export { databaseConfig } from './database.config';
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
import { collectInvalidVariables, InvalidEnvironmentErrors } from './env';

import { appConfig } from './app.config';
import { authConfig } from './auth.config';
import { databaseConfig } from './database.config';
import { idempotencyConfig } from './idempotency.config';
import { loggingConfig } from './logging.config';
import { paymentsConfig } from './payments.config';
import { redisConfig } from './redis.config';
import { throttleConfig } from './throttle.config';

export const allConfigs = [
  appConfig,
  authConfig,
  databaseConfig,
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
  if (invalid.length > 0) throw new InvalidEnvironmentErrors(invalid);
}
