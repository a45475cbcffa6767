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
