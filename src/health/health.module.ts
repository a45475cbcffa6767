import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { DatabaseIndicator } from './database.indicator';
import { DrainingIndicator } from './draining.indicator';
import { ReadinessService } from './readiness.service';
import { RedisHealthIndicator } from './redis.health';

@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [
    RedisHealthIndicator,
    DrainingIndicator,
    DatabaseIndicator,
    ReadinessService,
  ],
})
export class HealthModule {}
