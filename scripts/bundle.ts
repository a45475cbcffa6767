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
import { readFile, writeFile } from 'node:fs/promises';
import { build, transform, type Plugin } from 'esbuild';

const MAIN = 'dist/main.js';
/** esbuild's metafile of the bundle: every file it put in (`inputs`), for tests and for people. */
const META = 'dist/main.meta.json';

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
  // Which files went in: the comments that named them are gone with the whitespace.
  metafile: true,
})
  .then(async ({ metafile }) => {
    await writeFile(META, JSON.stringify(metafile));
    const source = await readFile(MAIN, 'utf8');
    const patched = importsSettleOnFirstUse(nameOnlyWhenRenamed(source));
    await writeFile(MAIN, asciiOnly(await withoutWhitespace(patched)));
  })
  .catch((error: unknown) => {
    // esbuild has printed why (logLevel); anything else is ours.
    if (!(error instanceof Error && 'errors' in error)) console.error(error);
    process.exitCode = 1;
  });

/**
 * `keepNames` keeps the names Nest relies on (providers, modules, log contexts and entities are
 * named after their classes) where esbuild renamed a binding to keep the bundle's scope unique
 * (`IdempotencyContext2`). It does so with `__name(target, "name")`, an `Object.defineProperty`,
 * in two forms, both costly on a hot path:
 *
 * - after every named declaration, and in a static block of every class. The name is already right
 *   unless the binding was renamed, so `__name` now redefines it only then, and the statement
 *   `__name(next, "next");` after a declaration that kept its name is dropped: Fastify's hook
 *   runners declare such functions per request, and even the check cost a microsecond a replay.
 * - around every function expression whose name the source would have inferred (`next: function`,
 *   `const onEnd = () =>`): the wrapping call is what stops the inference, and the function is
 *   named again on every evaluation. Closures made per request (Nest's `switchToHttp`, Fastify's
 *   response listeners, rxjs's subscribers) paid a `defineProperty` each: a tenth of a replay's
 *   CPU (npm run bench -- --against 8bcee7a --cpu-prof, see docs/performance.md). These keep no
 *   name now: nothing reads a closure's name, and a stack trace still shows where it was defined.
 */
function nameOnlyWhenRenamed(source: string): string {
  const helper =
    'var __name = (target, value) => __defProp(target, "name", { value, configurable: true });';
  const guarded =
    'var __name = (target, value) => target.name === value ? target : __defProp(target, "name", { value, configurable: true });\n' +
    'var __unnamed = (target) => target;';
  const wrapped = /\/\* @__PURE__ \*\/ __name\(/g;
  const kept = /^[ \t]*__name\(([A-Za-z_$][\w$]*), "\1"\);\n/gm;
  // A new esbuild that writes the helper differently must be looked at again, not patched blind.
  if (!source.includes(helper))
    throw new Error(`${MAIN} no longer defines __name as "${helper}"`);
  return source
    .replace(helper, guarded)
    .replace(wrapped, '/* @__PURE__ */ __unnamed(')
    .replace(kept, '');
}

/**
 * An ES module that imports a CommonJS one (Nest 12's packages import rxjs, for one) reads each
 * binding through `__toESM`'s copy of the exports, where every property is a getter: `(0,
 * import_rxjs.defer)(...)` calls a closure that reads `module.exports.defer` again, at every use.
 * Nest's interceptor and response pipeline does that several times a request: 5 µs of a create's
 * CPU (npm run bench -- --against 8bcee7a --cpu-prof, docs/performance.md). Unbundled, Node binds
 * such a named import once, to the value the CommonJS module exported when it finished loading. Here
 * each getter now replaces itself with the value on its first use that finds one (a module still
 * loading in a require cycle has none yet, and keeps its getter until it does). Only `__toESM` uses
 * the settling copy: `__toCommonJS` keeps live getters, which an ES module's own `let` exports need.
 */
function importsSettleOnFirstUse(source: string): string {
  const copyProps =
    /^var __copyProps = \(to, (\w+), except, desc\) => \{\n[\s\S]*?\n\};\n/m.exec(
      source,
    );
  const getter = copyProps && `{ get: () => ${copyProps[1]}[key], enumerable:`;
  const toEsm = /^var __toESM = [^\n]*__copyProps\(\n/m;
  // A new esbuild that writes the helpers differently must be looked at again, not patched blind.
  if (!copyProps || !copyProps[0].includes(getter!) || !toEsm.test(source))
    throw new Error(
      `${MAIN}: __copyProps or __toESM is not written as expected`,
    );
  const settling =
    'var __settle = (to, key, value) => (value !== void 0 && __defProp(to, key, { value }), value);\n' +
    copyProps[0]
      .replace('var __copyProps =', 'var __copyPropsOnce =')
      .replace(
        getter!,
        `{ get: () => __settle(to, key, ${copyProps[1]}[key]), configurable: true, enumerable:`,
      );
  return source
    .replace(copyProps[0], copyProps[0] + settling)
    .replace(toEsm, (line) => line.replace('__copyProps(', '__copyPropsOnce('));
}

/**
 * The bundle without the whitespace that only people read: V8 keeps a script's whole source for as
 * long as the script lives (for lazy compilation and `Function.prototype.toString`), so the 12.5 MB
 * of dist/main.js were 15.7 MB of large-object space in every instance; without whitespace the source
 * is 8.2 MB, and the app's resident set at idle about 7 MB smaller (docs/performance.md, the
 * eighth session of #41). Only whitespace: renaming identifiers would rename the classes whose names
 * Nest relies on, unless `keepNames` wrapped every function again (see nameOnlyWhenRenamed), and the
 * syntax rewrites save almost nothing more. A stack trace keeps its function names; its positions are
 * columns of a line. A second pass, after the patches above, which read esbuild's formatted output.
 */
async function withoutWhitespace(source: string): Promise<string> {
  const { code } = await transform(source, {
    minifyWhitespace: true,
    format: 'cjs',
    target: 'node22',
  });
  return code;
}

/**
 * V8 keeps a script's source for as long as the script lives: one byte per character when every
 * character is Latin-1, else two. esbuild escapes non-ASCII characters in strings and identifiers
 * (its default `charset: 'ascii'`) but not in comments or regular expression literals, and 198 lines
 * of them (validator's alphabets such as `/^[\u0410-\u042f]+$/i`, JSDoc) made the whole 12.5 MB
 * bundle a two-byte string: 25 MB of heap in every instance instead of 12.5, and a peak RSS under
 * `npm run bench` of 246 MiB instead of 229. Each such character becomes `\uXXXX`, which means the
 * same in a comment, a regular expression (with or without the `u` flag, for a character of the Basic
 * Multilingual Plane), a string and an identifier; only a template literal's raw text would differ,
 * and esbuild escapes those already.
 */
function asciiOnly(source: string): string {
  // A character outside the BMP (a surrogate pair), or one after a backslash (`\é` would become
  // `\\u00e9`, a backslash and five letters), needs a look at the context it appears in.
  if (/[\uD800-\uDFFF]|\\[\u0080-\uffff]/.test(source))
    throw new Error(
      `${MAIN} has a character outside the BMP or after a backslash: escape it by hand`,
    );
  return source.replace(
    /[\u0080-\uffff]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
