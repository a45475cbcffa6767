import { type KeyedTable, purgeBatchSql } from './key-purge';

describe('purgeBatchSql', () => {
  const orders = {
    table: 'orders',
    idColumn: 'id',
    createdAtColumn: 'created_at',
    expire: { clear: ['idempotency_key', 'request_fingerprint'] },
    lockId: 1,
  } satisfies KeyedTable;

  it('clears the key and its companions on the oldest expired rows of the named table', () => {
    const sql = purgeBatchSql(orders);
    expect(sql).toContain('SELECT "id" FROM "orders"');
    expect(sql).toContain('WHERE "idempotency_key" IS NOT NULL');
    expect(sql).toContain('ORDER BY "created_at"');
    expect(sql).toContain(
      'SET "idempotency_key" = NULL, "request_fingerprint" = NULL',
    );
  });

  it('deletes the oldest expired rows when the table expires rows rather than keys', () => {
    const sql = purgeBatchSql({
      table: 'payment_events',
      idColumn: 'webhook_id',
      createdAtColumn: 'received_at',
      expire: 'delete',
      lockId: 2,
    });
    expect(sql).toContain(
      'SELECT "webhook_id" FROM "payment_events"\n    WHERE "received_at" <',
    );
    expect(sql).toContain(
      'DELETE FROM "payment_events" t USING batch WHERE t."webhook_id" = batch."webhook_id"',
    );
  });

  it('refuses a name that is not a plain identifier', () => {
    expect(() => purgeBatchSql({ ...orders, table: 'orders; DROP' })).toThrow(
      /not a plain SQL identifier/,
    );
    expect(() =>
      purgeBatchSql({ ...orders, expire: { clear: ['"fingerprint"'] } }),
    ).toThrow(/not a plain SQL identifier/);
  });
});
