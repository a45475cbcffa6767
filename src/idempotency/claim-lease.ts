import type { InFlightEntry } from './storage/idempotency-storage.interface';

/**
 * Keeps a claimed lock alive while its owner is still running: renews it every third of the lease,
 * never past the claim's hard deadline. An owner that dies (SIGKILL, OOM, lost host) stops renewing,
 * so its key frees itself within one lease instead of answering retries with 409 for the whole
 * lock TTL. Returns the function that stops renewing.
 *
 * @example
 * const stop = renewWhileRunning((ttl) => storage.renew(key, token, ttl), 5000, claimedAt + 30000);
 * try { await handler(); } finally { stop(); }
 */
export function renewWhileRunning(
  renew: (ttlMs: number) => Promise<boolean>,
  leaseMs: number,
  deadline: number,
  now: () => number = Date.now,
): () => void {
  const timer = setInterval(
    () => {
      const remaining = deadline - now();
      if (remaining <= 0) return clearInterval(timer);
      // A failed renewal is retried at the next tick; a refused one means the claim is gone.
      renew(Math.min(leaseMs, remaining)).then(
        (held) => held || clearInterval(timer),
        () => undefined,
      );
    },
    Math.max(1, Math.floor(leaseMs / 3)),
  );
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The `Retry-After` (whole seconds) for a duplicate of a request in flight: 1 while its owner is
 * alive (renewed within the last third of its lease, so it may answer any moment), and the rest of
 * the lease once the owner has stopped renewing (it died, or passed its hard deadline); the lease
 * when the storage cannot tell.
 *
 * @example retryAfterSeconds({ ...lock, leaseExpiresAt: Date.now() + 4900 }, 5000) // 1
 */
export function retryAfterSeconds(
  lock: Pick<InFlightEntry, 'renewUntil' | 'leaseExpiresAt'>,
  leaseMs: number,
  now: number = Date.now(),
): number {
  const lapsesIn = (lock.leaseExpiresAt ?? now + leaseMs) - now;
  const renewing = now < lock.renewUntil && lapsesIn > leaseMs / 3;
  const known = lock.leaseExpiresAt !== undefined;
  return renewing && known ? 1 : Math.max(1, Math.ceil(lapsesIn / 1000));
}
