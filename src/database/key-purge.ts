/**
 * Where an idempotent route keeps its keys in Postgres, for the purge: the table, its primary key,
 * the key column (a row with it NULL is purged already), the columns cleared with it, and the
 * creation time the retention window counts from. Names come from code, never from a client.
 */
export interface KeyedTable {
  table: string;
  idColumn: string;
  keyColumn: string;
  /** Cleared together with the key (e.g. the request fingerprint). */
  alsoClear: string[];
  createdAtColumn: string;
  /** Advisory lock id of this table's purge, unique per table: one instance purges it at a time. */
  lockId: number;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

function quoted(name: string): string {
  if (!IDENTIFIER.test(name))
    throw new Error(`not a plain SQL identifier: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/**
 * One batch: the oldest rows past the retention window ($1 seconds) that still hold a key, at most
 * $2 of them. Index the key's rows by creation time (a partial index `WHERE <key> IS NOT NULL`) so
 * the batch is found without scanning the table; SKIP LOCKED never waits on an insert in flight.
 */
export function purgeBatchSql(target: KeyedTable): string {
  const [table, id, key, createdAt] = [
    target.table,
    target.idColumn,
    target.keyColumn,
    target.createdAtColumn,
  ].map(quoted);
  const cleared = [target.keyColumn, ...target.alsoClear]
    .map((column) => `${quoted(column)} = NULL`)
    .join(', ');
  return `WITH batch AS (
    SELECT ${id} FROM ${table}
    WHERE ${key} IS NOT NULL
      AND ${createdAt} < now() - make_interval(secs => $1)
    ORDER BY ${createdAt}
    LIMIT $2
    FOR UPDATE SKIP LOCKED
  )
  UPDATE ${table} t SET ${cleared}
  FROM batch WHERE t.${id} = batch.${id}`;
}
