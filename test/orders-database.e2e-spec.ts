import pg from 'pg';
import { databaseConfig } from '../src/config';
import type { ConfigType } from '@nestjs/config';
import { OrdersDatabase } from '../src/orders/orders-database';
import { SELECT_ORDER } from '../src/orders/orders.sql';

/**
 * OrdersDatabase hands pg its statements as query objects (not configs, which pg copies per query)
 * and names each one, so that a connection parses and plans it once. The name is a field of pg's
 * Query that the app sets itself: if a pg upgrade stopped reading it, every read would quietly be
 * parsed again, and this test would see no prepared statement.
 */
describe('OrdersDatabase on a real Postgres', () => {
  let pool: pg.Pool;

  beforeAll(() => {
    pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
  });
  afterAll(() => pool.end());

  const database = (preparedStatements: boolean) =>
    new OrdersDatabase(pool, {
      preparedStatements,
      poolSize: 1,
      connectTimeoutMs: 5000,
    } as ConfigType<typeof databaseConfig>);

  const prepared = async () =>
    (
      await pool.query<{ name: string; statement: string }>(
        'SELECT name, statement FROM pg_prepared_statements',
      )
    ).rows;

  it('sends a statement named after its text, prepared once per connection, with its values', async () => {
    await pool.query('DEALLOCATE ALL');
    const orders = database(true);
    const none = '00000000-0000-4000-8000-000000000000';
    expect(await orders.query(SELECT_ORDER, [none, 'nobody'])).toEqual([]);
    expect(await orders.query(SELECT_ORDER, [none, 'nobody'])).toEqual([]);
    expect(await prepared()).toEqual([
      {
        name: expect.stringMatching(/^orders_[0-9a-f]{16}$/),
        statement: SELECT_ORDER,
      },
    ]);
  });

  it('sends unnamed statements when prepared statements are off (behind a transaction pooler)', async () => {
    await pool.query('DEALLOCATE ALL');
    const orders = database(false);
    expect(
      await orders.query<{ n: number }>('SELECT $1::int + 1 AS n', [41]),
    ).toEqual([{ n: 42 }]);
    expect(await prepared()).toEqual([]);
  });

  it('fails the query, and gives the connection back, when Postgres refuses it', async () => {
    const orders = database(true);
    await expect(
      orders.query('SELECT $1::int', ['not a number']),
    ).rejects.toThrow(/invalid input syntax/);
    expect(await orders.query<{ one: number }>('SELECT 1 AS one', [])).toEqual([
      { one: 1 },
    ]);
  });
});
