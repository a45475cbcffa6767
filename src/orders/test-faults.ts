import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { setTimeout as sleep } from 'node:timers/promises';
import { appConfig } from '../config';
import type { TestFault } from '../config/app.config';

/**
 * Test-only fault hooks around the order INSERT, so that the process tests (test/process.e2e-spec.ts)
 * can kill an instance exactly between "row committed" and "response stored", or keep requests in
 * flight during a shutdown. They do nothing unless ORDERS_TEST_FAULT is set, which production never
 * sets (the config refuses it when NODE_ENV is production).
 */
@Injectable()
export class TestFaults {
  private readonly fault: TestFault;

  constructor(@Inject(appConfig.KEY) config: ConfigType<typeof appConfig>) {
    this.fault = config.testFault;
  }

  async beforeInsert(): Promise<void> {
    if (this.fault.kind === 'delay-before-insert') await sleep(this.fault.ms);
  }

  afterInsert(): void {
    if (this.fault.kind === 'crash-after-insert')
      process.kill(process.pid, 'SIGKILL');
  }
}
