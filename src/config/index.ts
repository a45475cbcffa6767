export { appConfig } from './app.config';
export { authConfig } from './auth.config';
export { databaseConfig } from './database.config';
export { idempotencyConfig } from './idempotency.config';
export { operationsConfig } from './operations.config';
export { redisConfig } from './redis.config';
export { InvalidEnvironmentError, isTestRun } from './env';

import { appConfig } from './app.config';
import { authConfig } from './auth.config';
import { databaseConfig } from './database.config';
import { idempotencyConfig } from './idempotency.config';
import { operationsConfig } from './operations.config';
import { redisConfig } from './redis.config';

export const allConfigs = [
  appConfig,
  authConfig,
  databaseConfig,
  idempotencyConfig,
  operationsConfig,
  redisConfig,
];

/** Reads every namespace once, so a bad variable fails before Nest starts (throws InvalidEnvironmentError). */
export function validateEnvironment(): void {
  for (const read of allConfigs) read();
}
