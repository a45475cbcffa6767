import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import { Public } from '../auth/public.decorator';
import { DatabaseIndicator } from './database.indicator';
import { DrainingIndicator } from './draining.indicator';
import { RedisHealthIndicator } from './redis.health';

@ApiTags('health')
@Public()
@SkipThrottle()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: DatabaseIndicator,
    private readonly redis: RedisHealthIndicator,
    private readonly draining: DrainingIndicator,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({
    summary:
      'Ready when Postgres answers and no shutdown is under way (200), else 503',
  })
  check() {
    return this.health.check([
      () => this.draining.check('shutdown'),
      () => this.db.check('database'),
    ]);
  }

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers (no I/O)' })
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({
    summary:
      'Readiness: Postgres required and no shutdown under way (else 503); Redis reported, degraded when down',
  })
  ready() {
    return this.health.check([
      () => this.draining.check('shutdown'),
      () => this.db.check('database'),
      () => this.redis.check('redis'),
    ]);
  }
}
