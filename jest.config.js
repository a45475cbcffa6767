const { readFileSync } = require('node:fs');

/**
 * Jest compiles with SWC, the build's own compiler and options (.swcrc: legacy decorators with
 * metadata, ES2023 class fields), each file on its own; `npm run typecheck` type-checks, and CI runs it
 * first. ts-jest took about 30 s of CPU more per run whenever its cache was cold, as on every fresh
 * clone that CI tests.
 */
const swc = [
  '@swc/jest',
  {
    ...JSON.parse(readFileSync(`${__dirname}/.swcrc`, 'utf8')),
    // Inline, so that a failure's stack names the TypeScript line.
    sourceMaps: 'inline',
    swcrc: false,
  },
];

const shared = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  transform: { '^.+\\.ts$': swc },
  testEnvironment: 'node',
};

/** A workspace package's unit specs (src/*.spec.ts). */
const workspace = (name) => ({
  ...shared,
  displayName: name,
  rootDir: name,
  testRegex: 'src/.*\\.spec\\.ts$',
  // The packages' sources import './x.js' (what their ES module builds need); here they are .ts.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
});

/** @type {import('jest').Config} */
module.exports = {
  // e2e tests start apps and OS processes; unit tests never get near it. A production boot takes about
  // 2 s of CPU, and suites start up to three at once beside each other: with a core hogged (the flake
  // hunt) three boots took longer than 30 s. A hang still fails, a minute later.
  testTimeout: 60000,
  testSequencer: '<rootDir>/test/support/longest-first.sequencer.cjs',
  projects: [
    {
      ...shared,
      displayName: 'unit',
      rootDir: 'src',
      testRegex: '.*\\.spec\\.ts$',
    },
    workspace('client'),
    workspace('events'),
    {
      ...shared,
      displayName: 'e2e',
      rootDir: '.',
      testRegex: 'test/.*\\.e2e-spec\\.ts$',
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
      setupFiles: ['<rootDir>/test/support/env.ts'],
      // test/support files that scripts also run under Node import './x.ts' (emitted as './x.js').
      moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
    },
  ],
};
