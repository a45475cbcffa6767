import { ServiceUnavailableError } from '../common/errors';

/**
 * A bulkhead between writes and reads on one connection pool: writes may hold at most `slots`
 * connections at once, so that a table that blocks writes (a lock, a slow index build) can never
 * take the whole pool and starve unrelated reads. Writes past the slots wait in a bounded queue for
 * at most `waitMs`, then fail with 503 like a pool that had no connection to give.
 *
 * @example const writes = new WriteBulkhead(15, 3000, 1000); await writes.run(() => pool.query(insert));
 */
export class WriteBulkhead {
  private inUse = 0;
  private readonly waiting: { start: () => void; timer: NodeJS.Timeout }[] = [];

  constructor(
    private readonly slots: number,
    private readonly waitMs: number,
    private readonly maxWaiting: number,
  ) {}

  /** Runs `write` once a slot is free. */
  async run<T>(write: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await write();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.inUse < this.slots) {
      this.inUse++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxWaiting)
      return Promise.reject(busy('too many writes are waiting'));
    return new Promise((resolve, reject) => {
      const entry = {
        start: () => {
          clearTimeout(entry.timer);
          this.inUse++;
          resolve();
        },
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(entry), 1);
          reject(busy(`no write slot within ${this.waitMs} ms`));
        }, this.waitMs),
      };
      this.waiting.push(entry);
    });
  }

  private release(): void {
    this.inUse--;
    this.waiting.shift()?.start();
  }
}

function busy(reason: string): ServiceUnavailableError {
  return new ServiceUnavailableError(
    `The database is busy (${reason}); retry with the same Idempotency-Key`,
  );
}

/** Connections kept for reads: a quarter of the pool, at least one (none when the pool has one). */
export function writeSlotsFor(poolSize: number): number {
  return Math.max(1, poolSize - Math.max(1, Math.ceil(poolSize / 4)));
}
