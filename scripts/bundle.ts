/**
 * Bundles the compiled app (dist/main.js and everything it requires) into dist/main.js, one file.
 *
 * Why: a start of the unbundled build spends most of its CPU finding and loading about two thousand
 * module files (resolution, package.json scope lookups, one compile each): 1.5 s of CPU to ready on
 * these machines, 1.0 s bundled. Every new instance pays it (a scale-out, a restart after a crash),
 * and so does every process the tests start (46 in npm test). Run by npm run build, after nest build.
 *
 *   node scripts/bundle.ts
 */
import { buildSync } from 'esbuild';

const MAIN = 'dist/main.js';

buildSync({
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
  ],
  // Nest 12's packages are ES modules, some of which call createRequire(import.meta.url); in one
  // CommonJS file that URL is the bundle's own.
  banner: {
    js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;",
  },
  define: { 'import.meta.url': '__importMetaUrl' },
  logLevel: 'warning',
});
