/**
 * Import rules checked by `npm run check:imports` (dependency-cruiser) in CI, beside the ESLint
 * boundary rule: no cycles anywhere, and the idempotency library never reaches into the app.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make load order matter and layers blur.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'library-stays-liftable',
      severity: 'error',
      comment: 'src/idempotency is a library: it may not import the application.',
      from: { path: '^src/idempotency/' },
      to: { path: '^src/', pathNot: '^src/idempotency/' },
    },
    {
      name: 'library-through-its-index',
      severity: 'error',
      comment: 'The app uses the idempotency library through src/idempotency/index.ts only.',
      from: { path: '^src/', pathNot: '^src/idempotency/' },
      to: { path: '^src/idempotency/', pathNot: '^src/idempotency/index\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
