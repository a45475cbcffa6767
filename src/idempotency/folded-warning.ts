import { Logger } from '@nestjs/common';

/**
 * A warning logged at most once per `intervalMs`, with the number of occurrences left unlogged in
 * between: an outage under load must not become a log flood.
 *
 * @example const degraded = new FoldedWarning(logger, 10_000); degraded.warn('storage claim failed');
 */
export class FoldedWarning {
  private lastLogged = 0;
  private unlogged = 0;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  warn(message: string): void {
    const now = this.now();
    if (now - this.lastLogged < this.intervalMs) {
      this.unlogged++;
      return;
    }
    const unlogged = this.unlogged;
    this.lastLogged = now;
    this.unlogged = 0;
    this.logger.warn(
      unlogged > 0
        ? `${message} (${unlogged} more since the last warning)`
        : message,
    );
  }
}
