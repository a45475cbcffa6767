/**
 * A table whose rows expire after a retention window, for the purge: its primary key, the creation
 * time the window counts from, and what expiring does. Names come from code, never from a client.
 */
export interface KeyedTable {
  table: string;
  /** A single-column key that finds one row through an index, or `ctid` (a TID scan). */
  idColumn: string;
  createdAtColumn: string;
  /**
   * `{ clear }`: set these columns to NULL (the first is the key: a row with it NULL is purged
   * already), as for idempotency keys; `'delete'`: remove the row, as for processed webhook events.
   */
  expire: { clear: [string, ...string[]] } | 'delete';
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
 * One batch: the oldest rows past the retention window ($1 seconds) that have not expired yet, at
 * most $2 of them. Index the creation time (partial, `WHERE <key> IS NOT NULL`, when clearing) so
 * the batch is found without scanning the table; SKIP LOCKED never waits on a write in flight.
 */
export function purgeBatchSql(target: KeyedTable): string {
  const [table, id, createdAt] = [
    target.table,
    target.idColumn,
    target.createdAtColumn,
  ].map(quoted);
  const clearing = target.expire === 'delete' ? undefined : target.expire.clear;
  const pending = clearing ? `${quoted(clearing[0])} IS NOT NULL AND ` : '';
  const batch = `WITH batch AS (
    SELECT ${id} FROM ${table}
    WHERE ${pending}${createdAt} < now() - make_interval(secs => $1)
    ORDER BY ${createdAt}
    LIMIT $2
    FOR UPDATE SKIP LOCKED
  )`;
  if (!clearing)
    return `${batch}
  DELETE FROM ${table} t USING batch WHERE t.${id} = batch.${id}`;
  const cleared = clearing
    .map((column) => `${quoted(column)} = NULL`)
    .join(', ');
  return `${batch}
  UPDATE ${table} t SET ${cleared}
  FROM batch WHERE t.${id} = batch.${id}`;
}
