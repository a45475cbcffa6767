/**
 * Bundles the compiled app (dist/main.js and everything it requires) into dist/main.js, one file.
 *
 * Why: a start of the unbundled build spends most of its CPU finding and loading about two thousand
 * module files (resolution, package.json scope lookups, one compile each): 1.5 s of CPU to ready on
 * these machines, 1.0 s bundled. Every new instance pays it (a scale-out, a restart after a crash),
 * and so does every process the tests start (46 in npm test). Run by npm run build, after nest build.
 *
 * A package that loads another through `createRequire(import.meta.url)` hides it from esbuild
 * (evanw/esbuild#1828): the bundle then loads that package a second time, from node_modules, file by
 * file. @nestjs/typeorm does so for TypeORM at start-up (its compatibility shim for `Connection`), and
 * so did TypeORM for `pg` until the app handed it the driver (database/typeorm-options.ts): 360 files
 * and a second copy of both, at every start. `bundledRequire` gives that one file the bundle's own
 * `require`, which esbuild follows. Other such files stay as they are: @nestjs/swagger's asks
 * swagger-ui-dist for its own folder, which only node_modules has.
 *
 *   node scripts/bundle.ts
 */
import { readFile } from 'node:fs/promises';
import { build, type Plugin } from 'esbuild';

const MAIN = 'dist/main.js';

/** The files whose `createRequire(import.meta.url)` loads a package the bundle already has. */
const BUNDLED_REQUIRE =
  /node_modules\/@nestjs\/typeorm\/dist\/common\/typeorm-compat\.js$/;
const CREATE_REQUIRE = 'const require = createRequire(import.meta.url);';

const bundledRequire: Plugin = {
  name: 'bundled-require',
  setup(bundle) {
    bundle.onLoad({ filter: BUNDLED_REQUIRE }, async ({ path }) => {
      const source = await readFile(path, 'utf8');
      // A new version of the package that loads differently must be looked at again, not bundled blind.
      if (!source.includes(CREATE_REQUIRE))
        throw new Error(`${path} no longer has "${CREATE_REQUIRE}"`);
      return { contents: source.replace(CREATE_REQUIRE, ''), loader: 'js' };
    });
  },
};

build({
  entryPoints: [MAIN],
  outfile: MAIN,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  // Nest names providers, modules and log contexts after their classes.
  keepNames: true,
  external: [
    // Optional peers Nest and its Fastify adapter load only when an app uses them; this one does not.
    '@nestjs/microservices',
    '@nestjs/websockets',
    '@fastify/multipart',
    '@fastify/view',
    'class-transformer/storage',
    // Pino starts its transports (LOG_FORMAT=pretty) in worker threads from files it finds next to
    // its own modules: left in node_modules, they are where it looks.
    'pino',
    'pino-pretty',
    'thread-stream',
    // pino-http (bundled) uses pino's serializers: the one copy, pino's own.
    'pino-std-serializers',
  ],
  // Nest 12's packages are ES modules, some of which call createRequire(import.meta.url); in one
  // CommonJS file that URL is the bundle's own.
  banner: {
    js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;",
  },
  define: { 'import.meta.url': '__importMetaUrl' },
  plugins: [bundledRequire],
  logLevel: 'warning',
}).catch(() => {
  // esbuild has printed why (logLevel).
  process.exitCode = 1;
});
