import { Controller, Get } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiTags,
} from '@nestjs/swagger';
import { ThrottleByAddress } from '../throttling/throttle-by-address.decorator';
import { Public } from '../auth/public.decorator';
import {
  ApiError,
  ErrorCode,
  RETRY_AFTER_HEADER,
  ServiceUnavailableError,
} from '../common/errors';
import { ReadinessService } from './readiness.service';

/** What a probe learns on the public port: ready, and nothing more. */
export class HealthStatusDto {
  @ApiProperty({ type: String, enum: ['ok'] })
  status: 'ok';
}

@ApiTags('health')
@ApiError(
  429,
  [ErrorCode.TOO_MANY_REQUESTS],
  'Over the per-address probe budget (HEALTH_THROTTLE_LIMIT per THROTTLE_TTL_MS); honour Retry-After.',
  RETRY_AFTER_HEADER,
)
@Public()
@ThrottleByAddress('health')
@Controller('health')
export class HealthController {
  constructor(private readonly readiness: ReadinessService) {}

  @Get()
  @ApiOkResponse({ type: HealthStatusDto })
  @ApiError(503, [ErrorCode.SERVICE_UNAVAILABLE], 'Not ready.')
  @ApiOperation({
    summary:
      'Ready (200) or not (503): the same as /health/ready, kept for probes that use it',
    description:
      'Status only; the state of each dependency is on the admin port (GET /health/ready there).',
  })
  check(): Promise<HealthStatusDto> {
    return this.ready();
  }

  @Get('live')
  @ApiOkResponse({ type: HealthStatusDto })
  @ApiOperation({
    summary: 'Liveness: the process answers (no I/O)',
    description:
      'Stays 200 during a graceful shutdown, while readiness turns 503; never touches a dependency.',
  })
  live(): HealthStatusDto {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOkResponse({ type: HealthStatusDto })
  @ApiError(
    503,
    [ErrorCode.SERVICE_UNAVAILABLE],
    'Not ready: Postgres does not answer, or a shutdown is under way.',
  )
  @ApiOperation({
    summary:
      'Readiness: 200 when Postgres answers and no shutdown is under way, else 503',
    description:
      "Status only: each dependency's state is on the admin port (GET /health/ready there). Redis is " +
      "never required (the service is correct without it); a database without this build's schema is " +
      'not ready.',
  })
  async ready(): Promise<HealthStatusDto> {
    if (!(await this.readiness.check()).ready)
      throw new ServiceUnavailableError('Not ready');
    return { status: 'ok' };
  }
}
