import { join, resolve } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { SingleBar } from 'cli-progress';
import type { Argv, CommandModule } from 'yargs';
import { defaultCatalog, projectRoot } from '../../catalog/load.js';
import type { Catalog } from '../../catalog/types.js';
import { InvariantError, UserError } from '../../errors.js';
import { expandPoints, loadExperiment } from '../../experiment/load.js';
import { defaultWorkerCount, PointFailure, simulateOnPool, type PointOutcome } from '../../experiment/pool.js';
import { EVENTS_LOG_FILE, logBlock, logText, parseShard, shardDirName, shardIndices, shardSummaryJson, type Shard, type ShardInfo } from '../../experiment/shard.js';
import type { Experiment, Point, PointResult } from '../../experiment/types.js';
import { shownPath } from '../../experiment/yaml-errors.js';
import type { EventLog } from '../../metrics/event-log.js';
import { buildSummary, SUMMARY_FILE, summaryJson, writeFileAtomic, writeSummary, type Summary } from '../../report/summary.js';
import { DEBUG_INVARIANTS_ENV, runPoint } from '../../serving/simulate.js';
import { writeCharts } from '../../report/charts/index.js';
import { wholeNumber } from '../options.js';

export interface RunOptions {
  /** Report directory; default reports/<name>/ under the project root (reports/<name>/shard-i-of-n/ for a shard). */
  out?: string;
  seed?: number;
  set?: string[];
  /** Make `text` the summary JSON instead of the table. */
  json?: boolean;
  catalog?: Catalog;
  /** Simulate only this slice of the points (point k belongs to shard (k mod count) + 1) and write a shard summary. */
  shard?: Shard;
  /** Called after each point finishes, with how many of the points to run have. */
  onProgress?: (done: number, total: number) => void;
}

export interface PoolRunOptions extends RunOptions {
  /** Worker threads; default one per core (os.availableParallelism()). 1 runs the points in this thread. */
  workers?: number;
  /** Draw a progress bar on stderr (the command decides: a TTY, no CI variable, no --json; see progressWanted). */
  progress?: boolean;
}

/** Simulates one point; may also hand back its event log, whose lines go to events.log. */
export type SimulateFn = (point: Point, catalog: Catalog) => PointResult | { result: PointResult; log: EventLog };

export interface RunOutput {
  summary: Summary;
  /** Absolute path of the directory summary.json was written to. */
  outDir: string;
  /** What the command prints: the table, or with json the summary JSON. Ends with a newline. */
  text: string;
  /** For a shard run: which shard, and the sweep's point count (also in summary.json). */
  shard?: ShardInfo;
}

/**
 * Loads the experiment (validating every point before any runs), simulates each point in turn in this thread, writes
 * <out>/summary.json (and events.log) and returns what to print. Nothing is written unless every point ran. The
 * `simulate` function can be replaced (tests); the command uses runExperimentOnPool.
 */
export function runExperiment(file: string, opts: RunOptions = {}, simulate: SimulateFn = runPoint): RunOutput {
  const plan = prepare(file, opts);
  const outcomes = plan.points.map((p, i) => {
    const o = simulateHere(p, plan.catalog, simulate);
    opts.onProgress?.(i + 1, plan.points.length);
    return o;
  });
  return finish(plan, outcomes, opts);
}

/**
 * The same with the real simulator on a pool of worker threads (`workers`, default one per core; 1 = in this thread,
 * no threads). The results, summary.json and events.log are the same for any number of workers: each point's
 * simulation depends only on the point, and the results are put back in point order. A failing point is reported as
 * runExperiment reports it (the lowest-numbered failing point; a UserError names it), every thread is stopped, and
 * nothing is written.
 */
export async function runExperimentOnPool(file: string, opts: PoolRunOptions = {}): Promise<RunOutput> {
  const plan = prepare(file, opts);
  const n = plan.points.length;
  const workers = Math.min(opts.workers ?? defaultWorkerCount(), n);
  const bar = opts.progress && n > 1 ? progressBar(n) : undefined;
  const onDone = (done: number, total: number): void => {
    bar?.update(done);
    opts.onProgress?.(done, total);
  };
  let outcomes: PointOutcome[];
  try {
    if (workers <= 1) {
      outcomes = [];
      for (const p of plan.points) {
        outcomes.push(simulateHere(p, plan.catalog, runPoint));
        onDone(outcomes.length, n);
        if (bar) await yieldToLoop(); // let the bar redraw
      }
    } else {
      try {
        // The threads get this thread's catalog (plain data: Maps of records), not each a fresh read of models/.
        outcomes = await simulateOnPool(plan.points, { workers, catalog: plan.catalog, onDone });
      } catch (err) {
        if (err instanceof PointFailure) throw pointError(plan.points[err.index]!, err.cause);
        throw err;
      }
    }
  } finally {
    bar?.stop();
  }
  return finish(plan, outcomes, opts);
}

/** Whether the command draws a progress bar: only on a terminal, never under CI (the CI variable set) or with --json. */
export function progressWanted(json: boolean, stderr: { isTTY?: boolean } = process.stderr, env: NodeJS.ProcessEnv = process.env): boolean {
  return !json && stderr.isTTY === true && (env['CI'] === undefined || env['CI'] === '');
}

function progressBar(total: number): SingleBar {
  const bar = new SingleBar({
    format: 'simulating {bar} {value}/{total} points | {duration_formatted} elapsed | ETA {eta_formatted}',
    stream: process.stderr,
    clearOnComplete: true,
    hideCursor: null,
    etaBuffer: 20,
    fps: 5,
  });
  bar.start(total, 0);
  return bar;
}

// ---------------------------------------------------------------------------------------------------------------------
// The steps both ways share

interface Plan {
  catalog: Catalog;
  name: string;
  seed: number;
  /** The points to simulate: all of them, or the shard's. */
  points: Point[];
  shard?: ShardInfo;
}

function prepare(file: string, opts: RunOptions): Plan {
  const catalog = opts.catalog ?? defaultCatalog();
  const loaded = loadExperiment(file, {
    ...(opts.set ? { set: opts.set } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    catalog,
  });
  const all = expandPoints(loaded);
  const { name, seed } = loaded.experiment;
  if (!opts.shard) return { catalog, name, seed, points: all };
  const shard: ShardInfo = { index: opts.shard.index, count: opts.shard.count, points: all.length };
  const points = shardIndices(all.length, shard).map((k) => all[k]!);
  return { catalog, name, seed, points, shard };
}

/** One point in this thread, its result checked and its log taken as plain lines. A UserError names the point. */
function simulateHere(p: Point, catalog: Catalog, simulate: SimulateFn): PointOutcome {
  try {
    const out = simulate(p, catalog);
    if (!('log' in out)) return { result: out };
    return { result: out.result, log: { lines: out.log.lines(), total: out.log.total, dropped: out.log.dropped } };
  } catch (err) {
    throw pointError(p, err);
  }
}

/** The simulator found the deployment impossible (e.g. the model does not fit): say which point. Other errors as they are. */
function pointError(p: Point, err: unknown): unknown {
  return err instanceof UserError ? new UserError(`point ${pointLabel(p.id, p.params)}: ${err.message}`) : err;
}

/** Checks and orders the outcomes, writes events.log and summary.json, and builds what to print. */
function finish(plan: Plan, outcomes: PointOutcome[], opts: RunOptions): RunOutput {
  const blocks: string[] = [];
  const results = plan.points.map((p, i) => {
    const o = outcomes[i];
    if (!o) throw new InvariantError(`no result for point ${p.id}`);
    const r = o.result;
    if (r.id !== p.id) throw new InvariantError(`simulating point ${p.id} returned the result of point ${r.id}`);
    if (o.log) {
      const { lines, total, dropped } = o.log;
      blocks.push(logBlock(`# ${pointLabel(p.id, p.params)}: ${total} events` + (dropped ? `, the newest ${lines.length} kept` : ''), lines));
    }
    // The point's params are the sweep's, in file order; summary.json keeps that order, so take them from the source.
    return { ...r, params: p.params };
  });
  const summary = buildSummary(plan.name, plan.seed, results);
  const base = opts.out !== undefined ? resolve(opts.out) : join(projectRoot(), 'reports', plan.name);
  const outDir = plan.shard && opts.out === undefined ? join(base, shardDirName(plan.shard)) : base;
  // events.log first: a summary.json next to it says the run finished (the log is only ever as new as the summary).
  if (blocks.length > 0) writeFileAtomic(outDir, EVENTS_LOG_FILE, logText(blocks));
  let written: string;
  let json: string;
  if (plan.shard) {
    json = shardSummaryJson(summary, plan.shard);
    written = writeFileAtomic(outDir, SUMMARY_FILE, json);
  } else {
    json = summaryJson(summary);
    written = writeSummary(outDir, summary);
  }
  const text = opts.json ? json : formatRun(summary, plan.points, written, plan.shard);
  return { summary, outDir, text, ...(plan.shard ? { shard: plan.shard } : {}) };
}

// ---------------------------------------------------------------------------------------------------------------------
// The table

/** Most swept fields live under deployment.; the prefix is noise in a table (summary.json keeps full paths). */
function shortPath(path: string): string {
  return path.startsWith('deployment.') ? path.slice('deployment.'.length) : path;
}

function valueText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function pointLabel(id: string, params: Record<string, unknown>): string {
  const ps = Object.entries(params).map(([k, v]) => `${shortPath(k)}=${valueText(v)}`);
  return [id, ...ps].join(' ');
}

/** Three significant-ish digits without exponents: 0.42, 12.3, 4512. */
function num(x: number): string {
  if (!Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  return x.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
}

/** Columns of numbers align right, the rest left. */
function table(header: string[], rows: string[][], left: boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (left[i] ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function notes(r: PointResult, e: Experiment | undefined): string[] {
  const out: string[] = [];
  const ev = (k: string) => r.events[k] ?? 0;
  if (ev('kv_blocks_expired') > 0) {
    // Say what actually followed: a fallback, failures, or nothing (the requests had already failed elsewhere).
    const then =
      ev('fell_back') > 0
        ? `${ev('fell_back')} request(s) fell back to prefilling on the decode worker`
        : e?.deployment.failurePolicy === 'fail' && r.requests.failed > 0
          ? 'those requests failed (failurePolicy: fail)'
          : 'no decode worker read them: their requests had already failed';
    out.push(`prefill released KV blocks no decode worker had read within the timeout (one line per prefill rank); ${then}`);
  }
  if (ev('stale_kv_read') > 0) {
    out.push('decode read KV blocks prefill had already released: output built on stale memory, a silent wrong answer in a real deployment');
  }
  if (ev('engine_dead') > 0) out.push("an engine died (vLLM's EngineDeadError); the requests it held failed");
  if (r.requests.failed > 0) out.push(`${r.requests.failed} of ${r.requests.total} requests failed; the event counts above say what failed them`);
  return out;
}

/** What the table needs of a point: its id and params, and its experiment for the notes when there is one (merge has none). */
export type TablePoint = Pick<Point, 'id' | 'params'> & { experiment?: Experiment };

export function formatRun(summary: Summary, points: readonly TablePoint[], summaryFile: string, shard?: ShardInfo): string {
  const keys = points[0] ? Object.keys(points[0].params) : [];
  const header = [
    'point',
    ...keys.map(shortPath),
    'completed',
    'failed',
    'fell back',
    'TTFT mean ms',
    'TTFT p50 ms',
    'TTFT p95 ms',
    'ITL mean ms',
    'e2e p50 ms',
    'out tok/s',
    'KV p50 ms',
    'KV GB/s',
  ];
  const rows = summary.points.map((r) => [
    r.id,
    ...keys.map((k) => valueText(r.params[k])),
    String(r.requests.completed),
    String(r.requests.failed),
    String(r.requests.fellBack),
    num(r.ttftMs.mean),
    num(r.ttftMs.p50),
    num(r.ttftMs.p95),
    num(r.itlMs.mean),
    num(r.e2eMs.p50),
    num(r.throughput.outputTokensPerS),
    num(r.kvTransfer.ms.p50),
    num(r.kvTransfer.effectiveGBps),
  ]);
  const numeric = (k: string) => summary.points.every((r) => typeof r.params[k] === 'number');
  const left = [true, ...keys.map((k) => !numeric(k)), ...header.slice(1 + keys.length).map(() => false)];
  const n = summary.points.length;
  const lines = [
    `experiment '${summary.experiment}' (seed ${summary.seed}): ` +
      (shard ? `shard ${shard.index}/${shard.count}, ${n} of ${shard.points} points` : `${n} point${n === 1 ? '' : 's'}`) +
      `, summary in ${shownPath(summaryFile)}`,
    '',
    ...table(header, rows, left),
    '',
    'notable events:',
  ];
  const byId = new Map(points.map((p) => [p.id, p.experiment]));
  for (const r of summary.points) {
    const counts = Object.entries(r.events).filter(([, c]) => c > 0);
    lines.push(`${pointLabel(r.id, r.params)}: ${counts.length ? counts.map(([k, c]) => `${k} ${c}`).join(', ') : 'none'}`);
    for (const note of notes(r, byId.get(r.id))) lines.push(`  ${note}`);
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------------------
// The command

interface Args {
  experiment: string;
  out?: string;
  seed?: number;
  set?: string[];
  json: boolean;
  workers?: number;
  shard?: Shard;
  debugInvariants: boolean;
}

/** yargs gives one string for one --set and a list for several. */
function setList(v: unknown): string[] {
  return (Array.isArray(v) ? v : [v]).map(String);
}

export const runCommand: CommandModule<object, Args> = {
  command: 'run <experiment>',
  describe: 'Run an experiment file (every point of its sweep) and write reports/<name>/summary.json',
  builder: (y) =>
    y
      .positional('experiment', { type: 'string', demandOption: true, describe: 'experiment file, .yaml or .json (experiments/README.md)' })
      .option('out', { type: 'string', requiresArg: true, describe: 'report directory (default: reports/<name>/, or reports/<name>/shard-i-of-n/ with --shard)' })
      .option('seed', { requiresArg: true, describe: "override the experiment's seed", coerce: wholeNumber('seed', 0) })
      .option('set', { type: 'string', requiresArg: true, describe: 'override a field before validation: path=value (repeatable), e.g. deployment.prefill.tp=2 or sweep.deployment.transport=[tcp,ib-rdma]', coerce: setList })
      .option('workers', { requiresArg: true, describe: 'worker threads simulating points in parallel (default: one per core; 1: no threads)', coerce: wholeNumber('workers', 1, 1024) })
      .option('shard', { requiresArg: true, describe: 'run only shard i of n (points k with k mod n = i - 1) and write a shard summary for `nixlsim merge`', coerce: parseShard })
      .option('json', { type: 'boolean', default: false, describe: 'print summary.json instead of the table' })
      // Hidden: check the invariants after every event, not only at the end (slow; for debugging nixlsim itself).
      .option('debug-invariants', { type: 'boolean', default: false, hidden: true }) as unknown as Argv<Args>,
  handler: async (a) => {
    // Through the environment, so that the pool's worker threads (which inherit it) check too.
    if (a.debugInvariants) process.env[DEBUG_INVARIANTS_ENV] = '1';
    const r = await runExperimentOnPool(a.experiment, {
      ...(a.out !== undefined ? { out: a.out } : {}),
      ...(a.seed !== undefined ? { seed: a.seed } : {}),
      ...(a.set !== undefined ? { set: a.set } : {}),
      ...(a.workers !== undefined ? { workers: a.workers } : {}),
      ...(a.shard !== undefined ? { shard: a.shard } : {}),
      json: a.json,
      progress: progressWanted(a.json),
    });
    // Charts for a whole run (a shard's would cover a slice; merge's output can be charted with `nixlsim chart`).
    const charts = a.shard === undefined ? await writeCharts(r.summary, r.outDir) : [];
    const pngs = charts.filter((f) => f.endsWith('.png'));
    process.stdout.write(r.text + (pngs.length && !a.json ? `charts: ${pngs.map((f) => shownPath(f)).join(', ')}\n` : ''));
  },
};
