import { HttpException, Injectable, OnModuleInit } from '@nestjs/common';
import { HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { AdminServer } from '../observability/admin-server';
import { DatabaseIndicator } from './database.indicator';
import { DrainingIndicator } from './draining.indicator';
import { RedisHealthIndicator } from './redis.health';

export interface Readiness {
  ready: boolean;
  /** Each dependency's state: for the admin port, never for the public. */
  details: HealthCheckResult;
}

/**
 * Whether the instance should get traffic: Postgres answers and no shutdown is under way; Redis is
 * reported (`degraded` when down) but never fails it. The public port says ready or not; the details
 * are served on the admin port (`GET /health/ready` there), out of a stranger's reach.
 */
@Injectable()
export class ReadinessService implements OnModuleInit {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: DatabaseIndicator,
    private readonly redis: RedisHealthIndicator,
    private readonly draining: DrainingIndicator,
    private readonly admin: AdminServer,
  ) {}

  onModuleInit(): void {
    this.admin.addRoute('/health/ready', async () => {
      const { ready, details } = await this.check();
      return { status: ready ? 200 : 503, body: details };
    });
  }

  async check(): Promise<Readiness> {
    try {
      const details = await this.health.check([
        () => this.draining.check('shutdown'),
        () => this.db.check('database'),
        () => this.redis.check('redis'),
      ]);
      return { ready: true, details };
    } catch (error) {
      // Terminus reports a failed check as a 503 whose body is the whole result.
      if (!(error instanceof HttpException) || error.getStatus() !== 503)
        throw error;
      return {
        ready: false,
        details: error.getResponse() as HealthCheckResult,
      };
    }
  }
}
