import type { LoggerService } from '@nestjs/common';

/** Nest's own start-up chatter: one info line per module, controller and route. */
const NEST_BOOT_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

/**
 * The app's logger with Nest's start-up chatter (about 30 lines) moved to debug, so that at the
 * default level a start-up prints one line: main.ts's summary (URL, docs, migrations, Redis).
 */
export class BootQuietLogger implements LoggerService {
  constructor(private readonly inner: LoggerService) {}

  log(message: unknown, ...params: unknown[]): void {
    const context = params.at(-1);
    if (typeof context === 'string' && NEST_BOOT_CONTEXTS.has(context))
      this.inner.debug?.(message, ...params);
    else this.inner.log(message, ...params);
  }
  /**
   * Nest logs a failed listen itself before rethrowing it; main.ts says it in one line naming the
   * setting (PORT in use), so Nest's line would be a second one.
   */
  error(message: unknown, ...params: unknown[]): void {
    if (
      params.at(-1) === 'NestApplication' &&
      /^(Error: )?listen E[A-Z]+/.test(String(message))
    )
      return;
    this.inner.error(message, ...params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.inner.warn(message, ...params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.inner.debug?.(message, ...params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.inner.verbose?.(message, ...params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.inner.fatal?.(message, ...params);
  }
}
