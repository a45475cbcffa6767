// Jest starts the longest suites first, so that the run ends with short ones on every worker instead
// of one worker still in the chaos run while the others are idle. Jest's own order comes from the
// timings it caches per machine and checkout path; a fresh clone (CI) has none and falls back to file
// size, which started the pipeline chaos run (the longest, about a third of the run) near the end.
const Sequencer = require('@jest/test-sequencer').default;
const { relative } = require('node:path');

/**
 * Seconds each long suite took in `npm test` (2 cores, 3 workers, 2026-12-01); only their order
 * matters. A suite not listed keeps Jest's order behind them.
 */
const LONG_SUITES = {
  'test/client-chaos.e2e-spec.ts': 170,
  'test/redis-cluster.e2e-spec.ts': 68,
  'test/redis-sentinel.e2e-spec.ts': 57,
  'test/order-events.e2e-spec.ts': 43,
  'test/hostile-process.e2e-spec.ts': 35,
  'test/startup-failures.e2e-spec.ts': 31,
  'test/process.e2e-spec.ts': 26,
  'test/operability.e2e-spec.ts': 22,
  'test/hostile.e2e-spec.ts': 20,
  'test/idempotency.e2e-spec.ts': 16,
  'test/fuzz.e2e-spec.ts': 12,
  'test/health-docs.e2e-spec.ts': 11,
  'test/faults.e2e-spec.ts': 10,
};

class LongestFirstSequencer extends Sequencer {
  async sort(tests) {
    const jestOrder = await super.sort(tests);
    const seconds = (test) =>
      LONG_SUITES[relative(test.context.config.rootDir, test.path)] ?? 0;
    // Array sort is stable: suites without a hint keep Jest's order.
    return [...jestOrder].sort((a, b) => seconds(b) - seconds(a));
  }
}

module.exports = LongestFirstSequencer;
