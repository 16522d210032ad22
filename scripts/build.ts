import { build, type BuildOptions as EsbuildOptions, type Plugin } from 'esbuild';
import { copyFile, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * Bundles the Lambda handlers for deployment into `.build/`, minified (a cold start parses every
 * byte it loads):
 *
 * - `bundle.js`: the handlers that use the AWS SDK and their dependencies (SDK, middy, zod, ...)
 *   in one file, so the zip holds one copy of them instead of one per handler.
 * - `light-bundle.js`: the handlers that use no AWS SDK client (health, openapi, preflight), so
 *   they never parse the SDK and load in a few tens of ms.
 * - `<handler>.js`: a two-line entry per handler (the `.build/<handler>.handler` Lambda names)
 *   that loads its handler from its bundle. Each handler module is reached through its own
 *   `require()`, which makes esbuild initialize it lazily: loading one handler never runs another
 *   handler's module-scope code, so a broken handler cannot take the others down.
 * - `lazy-<module>.js`: each module our code loads with a dynamic `import()` for a rare request
 *   (the S3 presigners), bundled on its own and `require()`d the first time a request needs it,
 *   so a cold start never parses them (see `lazyModules`; the SSM client stays in the shared
 *   bundle, see KEPT_IN_SHARED_BUNDLE).
 * - `sql-worker.js`, `file-inspector-worker.js` and `sql-wasm.wasm`: what the sql.js engine and
 *   the file inspector look for beside the handler at run time (functions/adapters/sqljs/). A
 *   bundler cannot see them: a worker is started from a path and the WASM is read from disk, so
 *   they are placed here explicitly.
 *
 * `npm run build` bundles every file of functions/handlers/; the Serverless plugin
 * (infra/build-plugin.js) passes the handlers serverless.yml names, so a function whose source
 * is missing fails the build instead of shipping a function that cannot start.
 */

const ROOT = path.resolve(__dirname, '..');
const HANDLERS_DIR = path.join(ROOT, 'functions', 'handlers');
/** Each worker thread's entry: bundled as `<name>.js` (sqlite-files.ts `workerEntry` starts them). */
const WORKERS = ['sql-worker', 'file-inspector-worker'];
const WORKERS_DIR = path.join(ROOT, 'functions', 'adapters', 'sqljs');
const SHARED_BUNDLE = 'bundle';
const LIGHT_BUNDLE = 'light-bundle';
const WASM_FILE = 'sql-wasm.wasm';
const OPENAPI_FILE = 'openapi.yaml';
const HANDLER_NAME = /^[a-z0-9][a-z0-9-]*$/;

const DEFAULT_OUT_DIR = path.join(ROOT, '.build');

/**
 * A package's ES module build before its CommonJS one. Each AWS SDK client ships its CommonJS
 * build as a single file holding every command of the service, which a bundler can only take
 * whole; its ES build is a module per command, so only the commands cloudlite sends are bundled.
 * bundle.js shrinks by about 220 KB and a cold start by about 25 ms (BENCHMARKS.md, item 6).
 */
export const MAIN_FIELDS = ['module', 'main'];

export class BuildError extends Error {
  override readonly name = 'BuildError';
}

export interface BuildOptions {
  /** Handler names (file names in functions/handlers/ without `.ts`); default: every file there. */
  handlers?: string[];
  /** Where to write (default `.build/`); the bench builds into a directory of its own. */
  outDir?: string;
}

export interface BuildResult {
  outDir: string;
  handlers: string[];
  /** The handlers in light-bundle.js (they use no AWS SDK client); the others are in bundle.js. */
  light: string[];
  /** Every file written into outDir, with its size in bytes. */
  files: { name: string; bytes: number }[];
  durationMs: number;
}

export async function buildBundles(options: BuildOptions = {}): Promise<BuildResult> {
  const started = performance.now();
  const handlers = options.handlers ?? (await listHandlers());
  const outDir = options.outDir ?? DEFAULT_OUT_DIR;
  checkHandlers(handlers);

  await mkdir(outDir, { recursive: true });
  // The files of an earlier build go first, so a handler removed from serverless.yml never ships.
  // Subdirectories belong to other builds (the load test bundles into .build/loadtest/) and are
  // neither touched here nor packaged (serverless.yml ships `.build/*` only).
  for (const entry of await readdir(outDir, { withFileTypes: true })) {
    if (entry.isFile()) await rm(path.join(outDir, entry.name));
  }

  const common = {
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: true,
    // Error classes and log lines name themselves through `name` and constructor names.
    keepNames: true,
    // Maps without the sources: stack traces get file:line (NODE_OPTIONS=--enable-source-maps)
    // while the zip stays small.
    sourcemap: 'linked',
    sourcesContent: false,
    // Everything is bundled, the AWS SDK included: the deployed code then runs the exact SDK
    // version the tests ran (S3 conditional writes need a recent one), not whatever the runtime
    // ships. The one exception is the engine's fallback for running from source, never taken in
    // the bundle because the WASM file sits beside it.
    external: [`sql.js/dist/${WASM_FILE}`],
    mainFields: MAIN_FIELDS,
    legalComments: 'none',
    logLevel: 'silent',
    plugins: [zodEnglishOnly],
  } satisfies EsbuildOptions;
  // Each handler's module graph, found by bundling it alone in memory: those that reach no AWS SDK
  // client go to the light bundle, so they never load the SDK.
  const graphs = await Promise.all(handlers.map((name) => build({ ...common, entryPoints: [handlerSource(name)], outdir: outDir, metafile: true, write: false })));
  const usesSdk = (graph: (typeof graphs)[number]) => Object.keys(graph.metafile.inputs).some((input) => input.includes('node_modules/@aws-sdk/'));
  const bundleOf = new Map(handlers.map((name, i) => [name, usesSdk(graphs[i]!) ? SHARED_BUNDLE : LIGHT_BUNDLE]));
  const bundles = [SHARED_BUNDLE, LIGHT_BUNDLE]
    .map((bundle) => ({ bundle, members: handlers.filter((name) => bundleOf.get(name) === bundle) }))
    .filter(({ members }) => members.length > 0);
  const lazy = new Map<string, string>();
  const results = await Promise.all([
    ...bundles.map(({ bundle, members }) =>
      build({
        ...common,
        stdin: { contents: sharedEntry(members), resolveDir: ROOT, sourcefile: `${bundle}.js`, loader: 'js' },
        outfile: path.join(outDir, `${bundle}.js`),
        plugins: [...common.plugins, lazyModules(lazy)],
        // An `import()` of a lazy bundle becomes a plain `require()` of the file beside it.
        supported: { 'dynamic-import': false },
      }),
    ),
    ...WORKERS.map((worker) => build({ ...common, entryPoints: [path.join(WORKERS_DIR, `${worker}.ts`)], outfile: path.join(outDir, `${worker}.js`) })),
  ]);
  const lazyResults = await Promise.all(
    [...lazy].map(([name, entry]) => build({ ...common, entryPoints: [entry], outfile: path.join(outDir, `${name}.js`), metafile: true })),
  );
  for (const [i, [name, entry]] of [...lazy].entries()) {
    const ours = Object.keys(lazyResults[i]!.metafile.inputs).filter((input) => isOwnSource(path.resolve(ROOT, input)) && path.resolve(ROOT, input) !== entry);
    if (ours.length > 0) {
      // Its own copy of these modules would be a second class identity and a second cache.
      throw new BuildError(`${name}.js (a dynamic import of ${path.relative(ROOT, entry)}) must not bundle our modules, but holds ${ours.join(', ')}: import only types from them`);
    }
  }
  const warnings = [...graphs, ...results, ...lazyResults].flatMap((result) => result.warnings);
  if (warnings.length > 0) {
    // A warning here has meant a require esbuild could not follow: better a failed build than a
    // function that breaks at run time.
    throw new BuildError(`esbuild warnings:\n${warnings.map((warning) => `- ${warning.text} (${warning.location?.file ?? '?'})`).join('\n')}`);
  }

  for (const name of handlers) await writeFile(path.join(outDir, `${name}.js`), handlerEntry(name, bundleOf.get(name)!));
  await copyFile(require.resolve(`sql.js/dist/${WASM_FILE}`), path.join(outDir, WASM_FILE));
  // Served by GET /openapi.json (functions/http/openapi-route.ts reads it beside the bundle).
  await copyFile(path.join(ROOT, 'docs', OPENAPI_FILE), path.join(outDir, OPENAPI_FILE));

  const written = (await readdir(outDir, { withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => entry.name);
  const files = await Promise.all(written.sort().map(async (name) => ({ name, bytes: (await stat(path.join(outDir, name))).size })));
  return { outDir, handlers, light: handlers.filter((name) => bundleOf.get(name) === LIGHT_BUNDLE), files, durationMs: Math.round(performance.now() - started) };
}

/**
 * zod's main entry re-exports the messages of every locale (`z.locales`, about 300 KiB minified)
 * where tree shaking cannot drop them, and a cold start parses every byte it loads. cloudlite
 * only ever uses English, zod's default (registered by zod's schemas module itself), so the
 * bundle's locale index holds English alone.
 */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(build) {
    const zodDir = `${path.sep}node_modules${path.sep}zod${path.sep}`;
    build.onResolve({ filter: /locales\/index\.js$/ }, (args) =>
      args.importer.includes(zodDir) ? { path: path.resolve(args.resolveDir, args.path), namespace: 'zod-english-only' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({
      contents: "export { default as en } from './en.js';",
      resolveDir: path.dirname(args.path),
      loader: 'js',
    }));
  },
};

const FUNCTIONS_DIR = path.join(ROOT, 'functions') + path.sep;

/**
 * Dynamic imports that stay in the shared bundle, loaded on first use all the same. A deployed
 * stage reads its keys from SSM with its first request (serverless.yml sets API_KEYS_PARAMETER),
 * so the SSM client is no rare path there, and a file of its own would carry a second copy of
 * the SDK core: loading that one cost about 46 ms (measured when the clients still came from
 * their CommonJS builds), where the client inside bundle.js costs its 185 KB of parsing and its
 * own setup.
 */
const KEPT_IN_SHARED_BUNDLE = new Set(['./adapters/ssm-secrets']);
const LAZY_PREFIX = 'lazy-';

function isOwnSource(file: string): boolean {
  return file.startsWith(FUNCTIONS_DIR);
}

/**
 * A dynamic `import()` in our code marks what a request needs only on a rare path (a presigned
 * transfer). In one bundle it would still be parsed by every cold start; here
 * each such module gets a bundle file of its own (`lazy-<specifier>.js`) that the import
 * `require()`s on first use. Collects the modules in `found` (file name -> entry).
 */
function lazyModules(found: Map<string, string>): Plugin {
  return {
    name: 'lazy-modules',
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind !== 'dynamic-import' || !isOwnSource(args.importer) || KEPT_IN_SHARED_BUNDLE.has(args.path)) return undefined;
        const resolved = await build.resolve(args.path, { resolveDir: args.resolveDir, importer: args.importer, kind: 'import-statement' });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        const name = LAZY_PREFIX + args.path.replace(/^(\.\.?\/)+|^@/, '').replace(/[^a-z0-9]+/gi, '-').toLowerCase();
        const earlier = found.get(name);
        if (earlier !== undefined && earlier !== resolved.path) return { errors: [{ text: `${earlier} and ${resolved.path} would both be ${name}.js` }] };
        found.set(name, resolved.path);
        return { path: `./${name}.js`, external: true };
      });
    },
  };
}

/** One `require()` per handler, inside a function: esbuild then initializes each module on first use. */
function sharedEntry(handlers: string[]): string {
  const cases = handlers.map((name) => `    case ${JSON.stringify(name)}: return require(${JSON.stringify(`./${path.relative(ROOT, handlerSource(name))}`)});`);
  return [
    'exports.load = (name) => {',
    '  switch (name) {',
    ...cases,
    '    default: throw new Error(`no handler named ${name} in this bundle`);',
    '  }',
    '};',
    '',
  ].join('\n');
}

function handlerEntry(name: string, bundle: string): string {
  return `'use strict';\n// Generated by scripts/build.ts: the code is in ${bundle}.js, shared with other handlers.\nmodule.exports = require('./${bundle}.js').load(${JSON.stringify(name)});\n`;
}

function handlerSource(name: string): string {
  return path.join(HANDLERS_DIR, `${name}.ts`);
}

async function listHandlers(): Promise<string[]> {
  return (await readdir(HANDLERS_DIR))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .map((file) => file.slice(0, -'.ts'.length))
    .sort();
}

function checkHandlers(handlers: string[]): void {
  if (handlers.length === 0) throw new BuildError('no handlers to build');
  const problems: string[] = [];
  for (const name of handlers) {
    if (!HANDLER_NAME.test(name)) problems.push(`"${name}" is not a kebab-case handler name`);
    else if ([...WORKERS, SHARED_BUNDLE, LIGHT_BUNDLE].includes(name) || name.startsWith(LAZY_PREFIX)) problems.push(`"${name}" is reserved for a bundle of its own`);
    else if (!existsSync(handlerSource(name))) problems.push(`handler "${name}" has no source file ${path.relative(ROOT, handlerSource(name))}`);
  }
  if (problems.length > 0) throw new BuildError(`cannot build the handlers: ${problems.join('; ')}`);
}

if (require.main === module) {
  const handlers = process.argv.slice(2);
  buildBundles({ handlers: handlers.length > 0 ? handlers : undefined }).then(
    (result) => {
      const total = result.files.reduce((sum, file) => sum + file.bytes, 0);
      for (const file of result.files) console.log(`${file.name.padEnd(28)} ${(file.bytes / 1024).toFixed(0).padStart(6)} KiB`);
      console.log(`built ${result.handlers.join(', ')} (without the SDK: ${result.light.join(', ') || 'none'}) into ${path.relative(process.cwd(), result.outDir) || '.'} (${(total / 1024).toFixed(0)} KiB) in ${result.durationMs} ms`);
    },
    (error: unknown) => {
      console.error(error instanceof BuildError ? error.message : error);
      process.exitCode = 1;
    },
  );
}
