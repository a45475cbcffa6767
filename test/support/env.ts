import {
  TEST_DATABASE_ENV,
  TEST_JWT_SECRET,
  TEST_REDIS_URL,
  TEST_WEBHOOK_SECRET,
} from './test-env';

// Every e2e worker talks to the run's own database and the real Redis.
process.env.NODE_ENV = 'test';
process.env.DATABASE_URL = process.env[TEST_DATABASE_ENV];
process.env.DB_MIGRATIONS_RUN = 'false';
process.env.REDIS_URL = TEST_REDIS_URL;
process.env.JWT_SECRET = TEST_JWT_SECRET;
process.env.PAYMENT_WEBHOOK_SECRETS = TEST_WEBHOOK_SECRET;
process.env.LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'silent';
// Every suite calls from 127.0.0.1 and shares one Redis: only the rate-limit tests set a real limit.
process.env.THROTTLE_LIMIT = '1000000000';
process.env.WEBHOOK_THROTTLE_LIMIT = '1000000000';
process.env.HEALTH_THROTTLE_LIMIT = '1000000000';
