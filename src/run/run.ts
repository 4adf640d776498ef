/**
 * Running an experiment file, the one way every command that runs experiments does it (run, check, breakeven, the
 * sweep benchmark): prepare (load and validate every point, pick and check the report directory, make the jobs:
 * each point's nominal run and its Monte Carlo samples), simulate (simulate.ts: this thread or the worker pool),
 * collect (check and order the outcomes, build summary.json and events.log) and write (with the reports and charts
 * of src/report/, all or nothing). Nothing is written unless every point ran.
 */
import { join, resolve } from 'node:path';
import { defaultCatalog } from '../catalog/load.js';
import { FieldError, InvariantError, UserError } from '../errors.js';
import { pointLabel, type Job, type PointOutcome } from '../experiment/jobs.js';
import { expandPoints, loadExperiment, pointFieldError, type LoadedExperiment } from '../experiment/load.js';
import { EVENTS_LOG_FILE, logBlock, logText, runFingerprint, shardDirName, shardIndices, shardSummaryJson, type Shard, type ShardInfo } from '../experiment/shard.js';
import { checkSamples, uncertaintyJobs, withBands } from '../experiment/uncertainty.js';
import { shownPath } from '../experiment/yaml-errors.js';
import { renderCharts } from '../report/charts/write.js';
import { withReportHtml } from '../report/html.js';
import { formatRun, runReportFiles } from '../report/run-table.js';
import { runPoint } from '../serving/simulate.js';
import type { Catalog } from '../spec/catalog.js';
import type { Point } from '../spec/experiment.js';
import { checkOutputDir, defaultReportDir, writeOutputs, type OutputFile } from '../spec/output.js';
import { buildSummary, SUMMARY_FILE, summaryJson, type Summary } from '../spec/summary.js';
import type { SimulationPool } from './pool.js';
import { simulateHere, simulateJobs, type SimulateFn } from './simulate.js';

export interface RunOptions {
  /** Report directory; default reports/<name>/ under the working directory (reports/<name>/shard-i-of-n/ for a shard). */
  out?: string;
  seed?: number;
  set?: string[];
  /** Make `text` the summary JSON instead of the table. */
  json?: boolean;
  catalog?: Catalog;
  /** Simulate only this slice of the points (point k belongs to shard (k mod count) + 1) and write a shard summary. */
  shard?: Shard;
  /**
   * Monte Carlo samples per point (`--uncertainty n`, n >= 2): each point also runs n times with the catalog's uncertain
   * figures drawn from their ranges, and its result gets `bands` (p5/p50/p95 of its main numbers). Default none.
   */
  uncertainty?: number;
  /** Called after each simulation finishes (a point's nominal run or one of its samples), with how many have. */
  onProgress?: (done: number, total: number) => void;
  /** false: write nothing, only return the files (`outputs`) for the caller to write with its own (check, breakeven). */
  write?: boolean;
}

export interface PoolRunOptions extends RunOptions {
  /** Worker threads; default one per core (os.availableParallelism()). 1 runs the points in this thread. */
  workers?: number;
  /** Draw a progress bar on stderr (the command decides: a TTY, no CI variable, no --json; progressWanted in src/cli/options.ts). */
  progress?: boolean;
  /** Also render the charts that apply (not for a shard) and write them with the summary. */
  charts?: boolean;
  /** Threads kept between runs, instead of threads started for this one (`workers` is then ignored). */
  pool?: SimulationPool;
  /** Another simulator than the real one (tests, through check): the points then run in this thread. */
  simulate?: SimulateFn;
}

export interface RunOutput {
  summary: Summary;
  /** Absolute path of the directory summary.json was written to. */
  outDir: string;
  /** What the command prints: the table, or with json the summary JSON. Ends with a newline. */
  text: string;
  /** For a shard run: which shard, and the sweep's point count (also in summary.json). */
  shard?: ShardInfo;
  /** The files of the run (events.log, summary.json, charts), written unless `write` was false. */
  outputs: OutputFile[];
  /** Absolute paths of the files written, in order (none when `write` was false). */
  files: string[];
}

/**
 * Loads the experiment (validating every point before any runs), simulates each point in turn in this thread, writes
 * <out>/summary.json (and events.log) and returns what to print. Nothing is written, not even the directory, unless
 * every point ran; then the files go out together (writeOutputs). The `simulate` function can be replaced (tests).
 * runExperimentOnPool is the same steps for the commands, asynchronous, on threads when they pay.
 */
export function runExperiment(file: string, opts: RunOptions = {}, simulate: SimulateFn = runPoint): RunOutput {
  const plan = prepare(file, opts);
  const outcomes = plan.jobs.map((j, i) => {
    const o = simulateHere(j, i, plan.catalog, simulate, (p, err) => pointError(plan, p, err));
    opts.onProgress?.(i + 1, plan.jobs.length);
    return o;
  });
  return finish(plan, collect(plan, withBands(plan.points, plan.catalog, plan.samples, outcomes)), opts);
}

/**
 * What every command that runs an experiment file calls (run, check, breakeven; the sweep benchmark): runExperiment's
 * steps with the real simulator on a pool of worker threads (`workers`, default one per core when the sweep is large
 * enough to gain from them; 1 = in this thread, no threads), and the charts with `charts`. The results, summary.json and events.log are the same for any number of workers: each point's
 * simulation depends only on the point, and the results are put back in point order. A failing point is reported as
 * runExperiment reports it (the lowest-numbered failing point; a UserError names it), every thread is stopped, and
 * nothing is written.
 */
export async function runExperimentOnPool(file: string, opts: PoolRunOptions = {}): Promise<RunOutput> {
  const plan = prepare(file, opts);
  const outcomes = await simulateJobs(plan.jobs, {
    catalog: plan.catalog,
    ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
    ...(opts.progress !== undefined ? { progress: opts.progress } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.pool ? { pool: opts.pool } : {}),
    ...(opts.simulate ? { simulate: opts.simulate } : {}),
    unit: plan.samples > 0 ? 'simulations' : 'points',
    pointError: (p, err) => pointError(plan, p, err),
  });
  const c = collect(plan, withBands(plan.points, plan.catalog, plan.samples, outcomes));
  // Charts for a whole run (a shard's would cover a slice; merge's output can be charted with `nixlsim chart`),
  // rendered before anything is written so that they go out with the summary or not at all.
  const charts = opts.charts && !plan.shard ? await renderCharts(c.summary, plan.outDir, plan.outFlag ? { flag: plan.outFlag } : {}) : [];
  return finish(plan, c, opts, charts);
}


// ---------------------------------------------------------------------------------------------------------------------
// The steps both ways share

interface Plan {
  catalog: Catalog;
  loaded: LoadedExperiment;
  name: string;
  seed: number;
  /** The points to simulate: all of them, or the shard's. */
  points: Point[];
  /** Monte Carlo samples per point (0: none). */
  samples: number;
  /** The simulations: each point's nominal run, each followed by its samples. */
  jobs: Job[];
  shard?: ShardInfo;
  /** Absolute path of the report directory. */
  outDir: string;
  /** `--out DIR` when the directory was given, for messages. */
  outFlag?: string;
}

/**
 * Loads and validates the experiment (every point) and picks the report directory, checking that it can be made
 * (creating nothing): a mistake in either is reported before any point runs.
 */
function prepare(file: string, opts: RunOptions): Plan {
  const catalog = opts.catalog ?? defaultCatalog();
  const samples = opts.uncertainty === undefined ? 0 : checkSamples(opts.uncertainty);
  const loaded = loadExperiment(file, {
    ...(opts.set ? { set: opts.set } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    catalog,
  });
  const all = expandPoints(loaded);
  const { name, seed } = loaded.experiment;
  const shard: ShardInfo | undefined = opts.shard ? { index: opts.shard.index, count: opts.shard.count, points: all.length, fingerprint: runFingerprint(all, samples, catalog) } : undefined;
  const base = opts.out !== undefined ? resolve(opts.out) : defaultReportDir(name);
  const outDir = shard && opts.out === undefined ? join(base, shardDirName(shard)) : base;
  const outFlag = opts.out !== undefined ? `--out ${opts.out}` : undefined;
  if (opts.write !== false) checkOutputDir(outDir, outFlag);
  // A shard runs its points' samples: a sample depends only on its point, the seed and its number, so the shards'
  // bands are the unsharded run's.
  const points = shard ? shardIndices(all.length, shard).map((k) => all[k]!) : all;
  const jobs = uncertaintyJobs(points, catalog, samples);
  return { catalog, loaded, name, seed, points, samples, jobs, outDir, ...(shard ? { shard } : {}), ...(outFlag ? { outFlag } : {}) };
}

/**
 * The simulator found the deployment impossible in a way only running shows (a fault target that names no worker,
 * a bad row deep in a trace): say which point of which file. A FieldError (`faults[0].target: ...`)
 * is placed at the line that gave the field its value. Other errors as they are.
 */
function pointError(plan: Plan, p: Point, err: unknown): unknown {
  if (!(err instanceof UserError)) return err;
  if (err instanceof FieldError) return pointFieldError(plan.loaded, p.id, [...err.field], err.problem);
  return new UserError(`point ${pointLabel(p.id, p.params)}: ${err.message}`, shownPath(plan.loaded.file));
}

/** What a run produced: the summary, and the files it writes (events.log, summary.json), not yet written. */
interface Collected {
  summary: Summary;
  outputs: OutputFile[];
  /** summary.json's text (what --json prints). */
  json: string;
  summaryFile: string;
}

/** Checks and orders the outcomes and builds summary.json and events.log, writing nothing. */
function collect(plan: Plan, outcomes: PointOutcome[]): Collected {
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
  const json = plan.shard ? shardSummaryJson(summary, plan.shard) : summaryJson(summary);
  const file = (name: string, data: string): OutputFile => ({ path: join(plan.outDir, name), data, ...(plan.outFlag ? { flag: plan.outFlag } : {}) });
  // events.log first: were the renames ever cut short, a summary.json says the run finished and its log is there.
  const outputs = [...(blocks.length > 0 ? [file(EVENTS_LOG_FILE, logText(blocks))] : []), file(SUMMARY_FILE, json)];
  return { summary, outputs, json, summaryFile: join(plan.outDir, SUMMARY_FILE) };
}

/** Writes the run's files and `extra` (its charts) together, all or nothing, unless told not to; builds what to print. */
function finish(plan: Plan, c: Collected, opts: RunOptions, extra: OutputFile[] = []): RunOutput {
  // points.csv and report.md for a whole run (a shard's would cover a slice: merge writes the run's).
  const reports = plan.shard ? [] : runReportFiles(c.summary, plan.points, { dir: plan.outDir, file: shownPath(plan.loaded.file), ...(plan.outFlag ? { flag: plan.outFlag } : {}) }, extra);
  const outputs = withReportHtml([...c.outputs, ...extra, ...reports], opts.write !== false && !plan.shard && { dir: plan.outDir, title: `nixlsim run: ${plan.name}`, text: formatRun(c.summary, plan.points, c.summaryFile, plan.shard), ...(plan.outFlag ? { flag: plan.outFlag } : {}) });
  const files = opts.write === false ? [] : writeOutputs(outputs, { dir: plan.outDir });
  const text = opts.json ? c.json : formatRun(c.summary, plan.points, c.summaryFile, plan.shard);
  return { summary: c.summary, outDir: plan.outDir, text, outputs, files, ...(plan.shard ? { shard: plan.shard } : {}) };
}
