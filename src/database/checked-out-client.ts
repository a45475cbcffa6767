import type { Pool, PoolClient } from 'pg';

/** A connection taken from the pool, with what its loss needs. */
export interface CheckedOutClient {
  client: PoolClient;
  /** Settles with the first error the connection reports (a reset, a cut network, a killed backend). */
  lost: Promise<Error>;
  /** Back to the pool; a connection that reported an error (or `error`) is discarded instead. */
  release: (error?: Error) => void;
}

/**
 * Takes a connection from the pool and listens for its errors until it goes back. node-postgres
 * emits 'error' on a checked-out client whose connection drops, even while a query of it is
 * running (the query fails too), and the pool listens only to idle clients: without this listener a
 * Postgres restart or a network cut at the wrong moment would kill the process.
 */
export async function checkOut(pool: Pool): Promise<CheckedOutClient> {
  const client = await pool.connect();
  let first: Error | undefined;
  let settle!: (error: Error) => void;
  const lost = new Promise<Error>((resolve) => (settle = resolve));
  const onError = (error: Error) => {
    first ??= error;
    settle(error);
  };
  client.on('error', onError);
  return {
    client,
    lost,
    release: (error?: Error) => {
      // The pool listens again (synchronously, in release) from here on.
      client.removeListener('error', onError);
      client.release(error ?? first);
    },
  };
}
