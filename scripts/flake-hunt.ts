/**
 * Runs the full `npm test` several times in a row while a CPU hog keeps one core busy, and tallies
 * the runs: a test that fails once in ten on a loaded machine fails CI at random, so it counts as a
 * defect. Each run's output is kept for the failures' details.
 *
 *   npm run test:flake-hunt                  # 10 runs, one core hogged
 *   npm run test:flake-hunt -- --runs 3 --hogs 0
 *
 * Run with Node 24 (npm puts the project's pinned node first on PATH), which strips the types.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    hogs: { type: 'string', default: '1' },
    // A run that takes longer has hung: it is stopped and counted as a failure.
    'timeout-minutes': { type: 'string', default: '10' },
  },
});
const runs = Number(flags.runs);
const hogCount = Number(flags.hogs);

/** A process that spins one core at 100% until killed. */
function startHog(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
}

interface RunResult {
  passed: boolean;
  seconds: number;
  failures: string[];
  logFile: string;
}

function runTests(index: number, logDir: string): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    // Its own process group, so that a hung run is stopped with everything it started.
    const child = spawn('npm', ['test'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let hung = false;
    const timer = setTimeout(
      () => {
        hung = true;
        process.kill(-child.pid!, 'SIGKILL');
      },
      Number(flags['timeout-minutes']) * 60_000,
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      const logFile = join(logDir, `run-${index}.log`);
      writeFileSync(logFile, output);
      const failures = output
        .split('\n')
        .filter((line) => line.trim().startsWith('●'))
        .map((line) => line.trim());
      if (hung)
        failures.push(
          `hung: stopped after ${flags['timeout-minutes']} minutes`,
        );
      resolve({
        passed: code === 0,
        seconds: Math.round((Date.now() - started) / 1000),
        failures: [...new Set(failures)],
        logFile,
      });
    });
  });
}

async function main(): Promise<void> {
  const logDir = mkdtempSync(join(tmpdir(), 'orders-flake-hunt-'));
  const hogs = Array.from({ length: hogCount }, startHog);
  const results: RunResult[] = [];
  try {
    for (let i = 1; i <= runs; i++) {
      const result = await runTests(i, logDir);
      results.push(result);
      console.log(
        `run ${i}/${runs}: ${result.passed ? 'pass' : 'FAIL'} in ${result.seconds} s` +
          (result.passed ? '' : `\n  ${result.failures.join('\n  ')}`),
      );
    }
  } finally {
    for (const hog of hogs) hog.kill('SIGKILL');
  }
  const passed = results.filter((result) => result.passed).length;
  console.log(
    `\ntally: ${passed}/${runs} full runs of npm test passed, ${hogCount} core(s) hogged; logs in ${logDir}`,
  );
  process.exitCode = passed === runs ? 0 : 1;
}

void main();
