// Each build directory of a package says which module format its .js files are, so Node (and
// bundlers) load dist/esm as ES modules and dist/cjs as CommonJS whatever the package's own "type".
// Used by every workspace package's build: node ../scripts/mark-module-formats.cjs (from the package).
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dist = join(process.cwd(), 'dist');
writeFileSync(join(dist, 'esm', 'package.json'), '{ "type": "module" }\n');
writeFileSync(join(dist, 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
