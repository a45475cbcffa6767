/** Settings shared by the global setup and every e2e worker. */
export const TEST_JWT_SECRET = 'test-7f3a9c2e5b8d1f4a6c0e9b2d7a5f3c8e';
/** The payment provider's signing secret in e2e runs (the Standard Webhooks test vectors' key). */
export const TEST_WEBHOOK_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
export const ADMIN_DATABASE_URL =
  process.env.TEST_ADMIN_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
/**
 * The e2e run's Redis: TEST_REDIS_URL's database (12 unless the URL names one) and the two after it,
 * for suites that need a database of their own. TEST_REDIS_URL is the redis-server the global setup
 * starts for the run (stopped when it ends), unless set beforehand to a server of yours.
 */
export const TEST_REDIS_URL = withDefaultDatabase(
  process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  12,
);

/** TEST_REDIS_URL moved `offset` databases on (0, 1 or 2). */
export function testRedisUrl(offset: 0 | 1 | 2 = 0): string {
  const url = new URL(TEST_REDIS_URL);
  url.pathname = `/${Number(url.pathname.slice(1)) + offset}`;
  return url.toString();
}

function withDefaultDatabase(value: string, database: number): string {
  const url = new URL(value);
  if (url.pathname.length <= 1) url.pathname = `/${database}`;
  return url.toString();
}
/** Written by the global setup: the per-run database's name. */
export const TEST_DATABASE_ENV = 'ORDERS_TEST_DATABASE_URL';

export function testDatabaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}
