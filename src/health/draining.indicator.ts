import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { HealthIndicatorService } from '@nestjs/terminus';
import { setTimeout as sleep } from 'node:timers/promises';
import { appConfig } from '../config';

/**
 * Readiness during a graceful shutdown. On SIGTERM the instance first reports "not ready" for
 * SHUTDOWN_GRACE_MS while still serving, so that a load balancer stops sending it traffic; only then
 * does Nest close the HTTP server (refusing new connections, letting requests in flight finish) and,
 * after it, the Postgres pool and the Redis connection.
 */
@Injectable()
export class DrainingIndicator implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Shutdown');
  private draining = false;

  /** True from SIGTERM on: responses then carry `Connection: close` so keep-alive clients let go. */
  get isDraining(): boolean {
    return this.draining;
  }

  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(appConfig.KEY)
    private readonly config: ConfigType<typeof appConfig>,
  ) {}

  check(key: string) {
    const indicator = this.indicators.check(key);
    return this.draining
      ? indicator.down({ message: 'shutting down' })
      : indicator.up();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.draining = true;
    this.logger.log(
      `not ready; closing the server in ${this.config.shutdownGraceMs} ms`,
    );
    if (this.config.shutdownGraceMs > 0)
      await sleep(this.config.shutdownGraceMs);
  }
}
