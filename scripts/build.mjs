#!/usr/bin/env node
/**
 * `npm run build`: the CLI as a few files that load fast, and the TypeScript compiled for everything else.
 *
 *  - esbuild bundles the CLI (src/cli/main.ts -> dist/cli.js) and the worker-pool thread (src/run/pool-worker.ts
 *    -> dist/pool-worker.js), with code splitting: what only some commands need (a command's own code, chart rendering)
 *    is a chunk in dist/chunks/ loaded by dynamic import when used: `nixlsim --help` reads 5 files, `nixlsim list
 *    models` 10 and a seed's `run` with its charts about 30, where the compiled tree read 445 for --help and 728 for
 *    the run. zod, yaml, yargs, vega and the rest are bundled; resvg (native code) stays in node_modules and loads
 *    when a chart is drawn (EXTERNAL).
 *  - tsc compiles src/ and bench/ into dist/src and dist/bench, as before: the benchmarks and the docs scripts run from
 *    there, and it is the type check of `npm test`'s pretest. Type errors fail the build.
 *
 * `--if-changed` (prepare, pretest) skips both when the inputs hash to what the last successful build recorded in
 * dist/.build-stamp and its outputs are there: `npx nixlsim` installs this folder into npx's cache and runs `prepare`
 * again, which then costs a hash of the sources instead of a full compile. `--no-tsc` bundles only.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const STAMP = join(dist, '.build-stamp');

/**
 * Packages left to node_modules: native code (resvg), or never imported by the CLI (vega-embed's browser build is read
 * as a file into report.html; playwright only drives tests). vega and vega-lite are bundled: the ~270 ES modules of
 * their tree become the chunk of the chart renderer, read in one piece when a chart is drawn (~0.1 s less per run with
 * charts than loading them from node_modules, docs/performance.md).
 */
const EXTERNAL = ['@resvg/resvg-js', 'vega-embed', 'playwright-core'];

/** What the build reads: a change to any of these is a change to its outputs. */
const INPUT_DIRS = ['src', 'bench', 'scripts'];
const INPUT_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];

/** What a build leaves; a stamp without them (dist/ partly deleted) does not count. */
const OUTPUTS = ['cli.js', 'pool-worker.js', join('src', 'cli', 'main.js'), join('bench', 'index.js')];

/** Chunks of earlier builds are removed only when this old: a command still running may yet import one. */
const STALE_CHUNK_MS = 10 * 60 * 1000;

function files(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** A hash of every input's path and bytes, and of the Node major version the bundle targets. */
function inputsHash(tsc) {
  const h = createHash('sha256');
  h.update(`node ${process.versions.node.split('.')[0]} tsc ${tsc}\0`);
  const all = [...INPUT_DIRS.flatMap((d) => files(join(root, d))), ...INPUT_FILES.map((f) => join(root, f)).filter((f) => existsSync(f))];
  for (const f of all.map((f) => relative(root, f).split(sep).join('/')).sort()) {
    h.update(`${f}\0`);
    h.update(readFileSync(join(root, f)));
    h.update('\0');
  }
  return h.digest('hex');
}

function upToDate(hash, tsc) {
  if (!existsSync(STAMP)) return false;
  try {
    if (JSON.parse(readFileSync(STAMP, 'utf8')).hash !== hash) return false;
  } catch {
    return false;
  }
  return OUTPUTS.filter((o) => tsc || !o.includes(sep)).every((o) => existsSync(join(dist, o)));
}

function runTsc() {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
    p.on('error', reject);
    p.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`tsc failed (${signal ?? `exit ${code}`})`))));
  });
}

async function bundle() {
  const { build } = await import('esbuild');
  const result = await build({
    absWorkingDir: root,
    entryPoints: { cli: 'src/cli/main.ts', 'pool-worker': 'src/run/pool-worker.ts' },
    outdir: 'dist',
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    // yaml, yargs' helpers and others are CommonJS and call require(): an ES module has none of its own.
    banner: { js: "import { createRequire as __nixlsimCreateRequire } from 'node:module'; const require = __nixlsimCreateRequire(import.meta.url);" },
    sourcemap: 'linked',
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  pruneChunks(new Set(Object.keys(result.metafile.outputs).map((o) => join(root, o))));
}

/** Removes chunks no longer part of the build, once they are old enough that nothing running still needs them. */
function pruneChunks(current) {
  const dir = join(dist, 'chunks');
  const now = Date.now();
  for (const f of files(dir)) {
    const js = f.endsWith('.map') ? f.slice(0, -'.map'.length) : f;
    if (current.has(js)) continue;
    if (now - statSync(f).mtimeMs > STALE_CHUNK_MS) rmSync(f, { force: true });
  }
}

async function main() {
  const args = process.argv.slice(2);
  const tsc = !args.includes('--no-tsc');
  const hash = inputsHash(tsc);
  if (args.includes('--if-changed') && upToDate(hash, tsc)) {
    process.stderr.write('nixlsim build: dist/ is up to date with the sources\n');
    await snapshotCatalog(false);
    return;
  }
  rmSync(STAMP, { force: true });
  mkdirSync(dist, { recursive: true });
  await Promise.all([bundle(), tsc ? runTsc() : Promise.resolve()]);
  writeFileSync(STAMP, `${JSON.stringify({ hash, tsc })}\n`);
  await snapshotCatalog(true);
}

/**
 * dist/catalog-snapshot.json: models/ loaded and validated once here, so that commands read one JSON file instead
 * (src/catalog/snapshot.ts). Rewritten after a build, or when models/ changed since; a catalog with a mistake in it
 * gets no snapshot (the commands then load the files and report it), and neither does a build without tsc's output.
 */
async function snapshotCatalog(always) {
  const compiled = join(dist, 'src', 'catalog', 'load.js');
  if (!existsSync(compiled)) return;
  const { fromSnapshot, writeCatalogSnapshot, defaultModelsDir } = await import(pathToFileURL(compiled).href);
  if (!always && fromSnapshot(defaultModelsDir()) !== undefined) return;
  try {
    writeCatalogSnapshot();
  } catch (err) {
    process.stderr.write(`nixlsim build: no catalog snapshot (${err instanceof Error ? err.message : String(err)})\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`nixlsim build: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
