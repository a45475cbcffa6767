import { purgeBatchSql } from './key-purge';

describe('purgeBatchSql', () => {
  const orders = {
    table: 'orders',
    idColumn: 'id',
    keyColumn: 'idempotency_key',
    alsoClear: ['request_fingerprint'],
    createdAtColumn: 'created_at',
    lockId: 1,
  };

  it('clears the key and its companions on the oldest expired rows of the named table', () => {
    const sql = purgeBatchSql(orders);
    expect(sql).toContain('SELECT "id" FROM "orders"');
    expect(sql).toContain('WHERE "idempotency_key" IS NOT NULL');
    expect(sql).toContain('ORDER BY "created_at"');
    expect(sql).toContain(
      'SET "idempotency_key" = NULL, "request_fingerprint" = NULL',
    );
  });

  it('refuses a name that is not a plain identifier', () => {
    expect(() => purgeBatchSql({ ...orders, table: 'orders; DROP' })).toThrow(
      /not a plain SQL identifier/,
    );
    expect(() =>
      purgeBatchSql({ ...orders, alsoClear: ['"fingerprint"'] }),
    ).toThrow(/not a plain SQL identifier/);
  });
});
