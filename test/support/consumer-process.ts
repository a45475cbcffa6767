import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ConsumerStats } from '@orders/events';
import type { Exit } from './app-process.ts';

/** examples/fulfilment (on @orders/events' build) running as its own OS process. */
export interface ConsumerProcess {
  child: ChildProcess;
  output(): string;
  /** Sends `signal` and waits for the exit; the counters it printed if it stopped cleanly. */
  stop(signal?: NodeJS.Signals): Promise<Exit & { stats?: ConsumerStats }>;
}

const EXAMPLE = join(process.cwd(), 'examples', 'fulfilment', 'main.ts');
/** The tail of a consumer's output kept for assertion messages: bounded, whatever it logs. */
const OUTPUT_KEPT = 1 << 18;

/** Starts the fulfilment example with `env` and resolves once it is consuming. */
export async function startConsumerProcess(
  env: Record<string, string>,
): Promise<ConsumerProcess> {
  const child = spawn(
    process.execPath,
    ['--disable-warning=MODULE_TYPELESS_PACKAGE_JSON', EXAMPLE],
    {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 2 * OUTPUT_KEPT) output = output.slice(-OUTPUT_KEPT);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<boolean>((resolve) => {
    child.stdout.on(
      'data',
      () => output.includes('fulfilment: ready') && resolve(true),
    );
    void exited.then(() => resolve(false));
    setTimeout(() => resolve(false), 45_000).unref();
  });
  const consumer: ConsumerProcess = {
    child,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null)
        child.kill(signal);
      const exit = await exited;
      const stopped = /fulfilment: stopped (\{.*\})/.exec(output)?.[1];
      return {
        ...exit,
        stats: stopped ? (JSON.parse(stopped) as ConsumerStats) : undefined,
      };
    },
  };
  if (await ready) return consumer;
  await consumer.stop('SIGKILL');
  throw new Error(`the fulfilment consumer did not start:\n${output}`);
}
