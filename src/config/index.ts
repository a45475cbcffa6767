export { appConfig } from './app.config';
export { authConfig } from './auth.config';
export { databaseConfig } from './database.config';
export { idempotencyConfig } from './idempotency.config';
export { InvalidEnvironmentError } from './env';
