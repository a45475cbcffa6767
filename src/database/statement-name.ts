import { createHash } from 'node:crypto';

const statementNames = new Map<string, string>();

/**
 * The name of a named (prepared) statement for `sql`, the same in every process: each connection
 * parses and plans it once, which saves Postgres CPU on the cores the app shares. Only where
 * DB_PREPARED_STATEMENTS allows: behind a transaction pooler a statement prepared on one server
 * connection would be missing, or already exist, on the next.
 */
export function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = `orders_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
    statementNames.set(sql, name);
  }
  return name;
}
