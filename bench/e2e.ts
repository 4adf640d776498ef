/**
 * `npm run bench:e2e [-- --json] [-- --runs N] [-- --skip replay,sweep] [-- --root DIR] [-- --trace FILE]
 * [-- --heap-mb MB]`: what a user waits for, end to end, each figure the median of N runs (default 3) of a child
 * process started afresh, as a shell starts one:
 *  - helpS: `nixlsim --help`;
 *  - quickstartS: `nixlsim quickstart` (what `npm start` runs, without npm's own start);
 *  - seedRunS: `nixlsim run experiments/seeds/<seed>.yaml --out <tmp>` with its charts, for each of the three seeds;
 *  - replay1M*: bench/scale-run.js replaying the million-record Azure trace tiled from --trace (default
 *    traces/azure-llm-2023-code.csv, as bench:scale) with V8's old generation capped at --heap-mb (default
 *    128: at bench:scale's 64 the heap guard of src/deadline.ts stops the replay): requests per second of wall time in
 *    the replay, the share of the process's life V8 spent collecting garbage and its peak RSS, both from
 *    bench/e2e-gc.js preloaded into it;
 *  - sweep200SpeedUp: the 200-point sweep of bench:sweep as `nixlsim run` with `--workers 1` against the default
 *    (threads), each a fresh process (cold, as one run is); its summary.json must be the same bytes both ways.
 * Prints a table and the JSON line; `--json` prints the line alone:
 * {helpS, quickstartS, seedRunS: {longContext, asymmetricTp, breakeven}, replay1MRequestsPerS, replay1MGcShare,
 * replay1MPeakRssMB, sweep200SpeedUp}. `--skip` leaves figures out (null). `--root DIR` measures another checkout of
 * nixlsim, built (its bin/nixlsim.js and dist/bench/scale-run.js), with this one's harness: how docs/performance.md
 * compares a change with the commit before it. Benchmarks are not tests: nothing here fails a build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readAzureRows, writeTiledTrace } from './scale-trace.js';
import { SWEEP_EXPERIMENT } from './sweep-experiment.js';

const here = dirname(fileURLToPath(import.meta.url));
const self = resolve(here, '..', '..');
const GC_PRELOAD = pathToFileURL(join(here, 'e2e-gc.js')).href;
const REPLAY_RECORDS = 1_000_000;
const SEEDS = { longContext: 'long-context', asymmetricTp: 'asymmetric-tp', breakeven: 'breakeven' } as const;

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const json = process.argv.includes('--json');
const runs = Math.max(1, Number(flag('--runs') ?? 3));
const skip = new Set((flag('--skip') ?? '').split(',').filter((s) => s !== ''));
const root = resolve(flag('--root') ?? self);
const SOURCE = resolve(flag('--trace') ?? join(self, 'traces', 'azure-llm-2023-code.csv'));
const HEAP_MB = Number(flag('--heap-mb') ?? 128);
const BIN = join(root, 'bin', 'nixlsim.js');

function say(line: string): void {
  if (!json) process.stderr.write(`${line}\n`);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round = (x: number, d: number): number => Math.round(x * 10 ** d) / 10 ** d;

interface Child {
  seconds: number;
  stdout: string;
  stderr: string;
}

/** Runs `node <args>` in the measured checkout and times it from spawn to exit; a failure stops the benchmark. */
function child(args: readonly string[]): Child {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, CI: 'true' } });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stderr}`);
  return { seconds, stdout: r.stdout, stderr: r.stderr };
}

/** The median wall time of `runs` runs of the CLI with `args`. */
function cli(what: string, args: (run: number) => string[]): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(child([BIN, ...args(i)]).seconds);
  const m = median(times);
  say(`${what}: ${times.map((t) => t.toFixed(2)).join(', ')} s, median ${m.toFixed(2)} s`);
  return round(m, 3);
}

interface Replay {
  requestsPerS: number;
  gcShare: number;
  peakRssMB: number;
}

function replay(): Replay | null {
  if (!existsSync(SOURCE)) {
    say(`replay: skipped, it needs the Azure code trace at ${SOURCE}`);
    return null;
  }
  writeTiledTrace(readAzureRows(SOURCE), REPLAY_RECORDS, join(root, 'reports', 'scale', 'azure-code-1m.csv'));
  const got: Replay[] = [];
  for (let i = 0; i < runs; i++) {
    const c = child([`--max-old-space-size=${HEAP_MB}`, '--import', GC_PRELOAD, join(root, 'dist', 'bench', 'scale-run.js'), join(root, 'bench', 'scale.yaml'), String(REPLAY_RECORDS)]);
    const run = JSON.parse(c.stdout.trim()) as { records: number; wallS: number };
    const line = c.stderr.split('\n').find((l) => l.startsWith('nixlsim-e2e-gc '));
    if (!line) throw new Error('the replay printed no nixlsim-e2e-gc line: was bench/e2e-gc.js preloaded?');
    const gc = JSON.parse(line.slice('nixlsim-e2e-gc '.length)) as { gcMs: number; wallMs: number; maxRssMB: number };
    got.push({ requestsPerS: run.records / run.wallS, gcShare: gc.gcMs / gc.wallMs, peakRssMB: gc.maxRssMB });
    say(`replay ${i + 1}: ${run.wallS.toFixed(1)} s, ${got.at(-1)!.requestsPerS.toFixed(0)} requests/s, GC ${(got.at(-1)!.gcShare * 100).toFixed(1)}%, peak RSS ${gc.maxRssMB.toFixed(0)} MB`);
  }
  return {
    requestsPerS: Math.round(median(got.map((g) => g.requestsPerS))),
    gcShare: round(median(got.map((g) => g.gcShare)), 3),
    peakRssMB: Math.round(median(got.map((g) => g.peakRssMB))),
  };
}

/** --workers 1 against the default, alternating; the speed-up of the medians. */
function sweep(dir: string): number {
  const file = join(dir, 'sweep.yaml');
  writeFileSync(file, SWEEP_EXPERIMENT);
  const one: number[] = [];
  const pool: number[] = [];
  for (let i = 0; i < runs; i++) {
    one.push(child([BIN, 'run', file, '--workers', '1', '--out', join(dir, 'workers-1'), '--json']).seconds);
    pool.push(child([BIN, 'run', file, '--out', join(dir, 'default'), '--json']).seconds);
    say(`sweep ${i + 1}: --workers 1 ${one.at(-1)!.toFixed(2)} s, default ${pool.at(-1)!.toFixed(2)} s`);
  }
  const summary = (d: string) => readFileSync(join(dir, d, 'summary.json'), 'utf8');
  if (summary('workers-1') !== summary('default')) {
    process.stderr.write('bench:e2e: the sweep wrote another summary.json with threads than with --workers 1 (a bug)\n');
    process.exitCode = 3;
  }
  return round(median(one) / median(pool), 2);
}

function main(): void {
  if (!existsSync(BIN)) throw new Error(`no ${BIN}: --root must be a built checkout of nixlsim`);
  const dir = mkdtempSync(join(tmpdir(), 'nixlsim-bench-e2e-'));
  try {
    const helpS = skip.has('help') ? null : cli('--help', () => ['--help']);
    const quickstartS = skip.has('quickstart') ? null : cli('quickstart', () => ['quickstart']);
    const seedRunS = skip.has('seeds')
      ? null
      : (Object.fromEntries(
          Object.entries(SEEDS).map(([key, seed]) => [key, cli(`run ${seed}`, (i) => ['run', join(root, 'experiments', 'seeds', `${seed}.yaml`), '--out', join(dir, `${seed}-${i}`)])]),
        ) as Record<keyof typeof SEEDS, number>);
    const r = skip.has('replay') ? null : replay();
    const sweep200SpeedUp = skip.has('sweep') ? null : sweep(dir);
    const result = {
      helpS,
      quickstartS,
      seedRunS,
      replay1MRequestsPerS: r?.requestsPerS ?? null,
      replay1MGcShare: r?.gcShare ?? null,
      replay1MPeakRssMB: r?.peakRssMB ?? null,
      sweep200SpeedUp,
    };
    if (!json) {
      const s = (x: number | null | undefined, unit: string) => (x === null || x === undefined ? '-' : `${x}${unit}`);
      process.stdout.write(
        [
          `nixlsim end to end (${root}), medians of ${runs} runs`,
          `  --help                       ${s(helpS, ' s')}`,
          `  quickstart                   ${s(quickstartS, ' s')}`,
          ...Object.keys(SEEDS).map((k) => `  run ${SEEDS[k as keyof typeof SEEDS].padEnd(25)}${s(seedRunS?.[k as keyof typeof SEEDS], ' s')}`),
          `  1M replay                    ${s(result.replay1MRequestsPerS, ' requests/s')}, GC ${s(result.replay1MGcShare, '')}, peak RSS ${s(result.replay1MPeakRssMB, ' MB')}`,
          `  200-point sweep speed-up     ${s(sweep200SpeedUp, 'x')}`,
          '',
        ].join('\n'),
      );
    }
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
