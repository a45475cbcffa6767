import pg from 'pg';
import { READ_ONLY_TRANSACTION } from '../common/errors/database-errors';

/**
 * SQLSTATE 08007, transaction_resolution_unknown: the outcome of a commit is not known. Class 08
 * counts as the database being unavailable (503, retry with the same key).
 */
export const TRANSACTION_RESOLUTION_UNKNOWN = '08007';

/**
 * A commit Postgres applied locally but whose wait for the synchronous standby was cancelled (a
 * statement timeout, a cancel, a dying primary): Postgres still reports success, with a WARNING.
 * After a failover the new primary may not have it, so it is not an acknowledged commit.
 */
export class CommitNotReplicatedError extends Error {
  readonly code = TRANSACTION_RESOLUTION_UNKNOWN;

  constructor(detail: string) {
    super(
      `the commit was not confirmed by the synchronous standby (${detail}); its outcome is unknown until the client retries`,
    );
    this.name = 'CommitNotReplicatedError';
  }
}

/** How Postgres words the warning of a cancelled synchronous-replication wait (SyncRepWaitForLSN). */
const CANCELLED_SYNC_WAIT = /wait for synchronous replication/i;

interface QueryInFlight {
  _canceledDueToError?: unknown;
}

/**
 * The pg Client every pooled connection of the app is (TypeORM's `extra.Client`, and the relay's
 * pool copies it), so that no write is acknowledged on a promise Postgres did not keep:
 *
 * - The warning of a cancelled synchronous wait turns the statement it came with into a failure
 *   (CommitNotReplicatedError, a 503). node-postgres offers no public way to fail a query from a
 *   notice; `_canceledDueToError` is the field its own row-parsing errors use to fail the query at
 *   ReadyForQuery (pg 8), and test/sync-replication.e2e-spec.ts proves the path end to end on a
 *   real server, so a pg upgrade that moves it turns that test red instead of losing the check.
 * - A write refused as read-only (25006: the node was demoted, or is a standby that HAProxy had not
 *   yet stopped routing to) ends the connection: the pool discards it, and the client's retry gets a
 *   fresh connection, which reaches whichever node is primary by then.
 */
export class ReplicationGuardedClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    // An error the connection reports while no query of it runs (a backend terminated between two
    // statements, as a Patroni switchover does to every session) is emitted as 'error' on the
    // client. Whoever holds it listens (the pool while it is idle, checkOut, pool.query, TypeORM's
    // query runner); a moment when nobody did killed an app in test:ha's switchover once (57P01). pg
    // has marked the client not queryable by then: its next query fails, and the pool discards it
    // when it comes back. The other listeners still hear the error.
    this.on('error', () => undefined);
    this.on('notice', (notice: { message?: string }) => {
      if (!CANCELLED_SYNC_WAIT.test(notice.message ?? '')) return;
      const query = (
        this as unknown as { _getActiveQuery?: () => QueryInFlight | null }
      )._getActiveQuery?.();
      if (query)
        query._canceledDueToError = new CommitNotReplicatedError(
          notice.message ?? 'cancelled',
        );
    });
  }

  // Every overload of pg's query goes through here; only the promise form (all the app uses) is watched.
  query(...args: unknown[]): never {
    const result = (super.query as (...a: unknown[]) => unknown).apply(
      this,
      args,
    );
    if (result instanceof Promise)
      result.catch((error: unknown) => {
        if ((error as { code?: unknown })?.code === READ_ONLY_TRANSACTION)
          void this.end().catch(() => undefined);
      });
    return result as never;
  }
}
