/** Settings shared by the global setup and every e2e worker. */
export const TEST_JWT_SECRET = 'test-7f3a9c2e5b8d1f4a6c0e9b2d7a5f3c8e';
export const ADMIN_DATABASE_URL =
  process.env.TEST_ADMIN_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL =
  process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Written by the global setup: the per-run database's name. */
export const TEST_DATABASE_ENV = 'ORDERS_TEST_DATABASE_URL';

export function testDatabaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}
