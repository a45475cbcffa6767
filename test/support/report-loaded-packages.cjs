// Preloaded (`node --require`) into an instance of the production build by test/process.e2e-spec.ts:
// at exit, prints the packages the process loaded from node_modules, file by file, one line of JSON.
process.once('exit', () => {
  const packages = new Set();
  for (const file of Object.keys(require.cache)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
    if (match) packages.add(match[1]);
  }
  process.stdout.write(
    `loaded from node_modules: ${JSON.stringify([...packages].sort())}\n`,
  );
});
