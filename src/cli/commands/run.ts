import { join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { defaultCatalog } from '../../catalog/load.js';
import type { Catalog } from '../../spec/catalog.js';
import { FieldError, InvariantError, UserError } from '../../errors.js';
import { expandPoints, loadExperiment, pointFieldError, type LoadedExperiment } from '../../experiment/load.js';
import type { Job, SimulationPool, PointOutcome } from '../../experiment/pool.js';
import { EVENTS_LOG_FILE, logBlock, logText, parseShard, runFingerprint, shardDirName, shardIndices, shardSummaryJson, type Shard, type ShardInfo } from '../../experiment/shard.js';
import type { Band, PointBands } from '../../spec/bands.js';
import type { Experiment, Point, PointResult } from '../../spec/experiment.js';
import { pointLabel, shortPath, simulateHere, simulateJobs, valueText, type SimulateFn } from '../../experiment/simulate-jobs.js';
import { checkSamples, MAX_SAMPLES, uncertaintyJobs, withBands } from '../../experiment/uncertainty.js';
import { shownPath } from '../../experiment/yaml-errors.js';
import { checkOutputDir, defaultReportDir, writeOutputs, type OutputFile } from '../../spec/output.js';
import { buildSummary, SUMMARY_FILE, summaryJson, type Summary } from '../../spec/summary.js';
import { DEBUG_INVARIANTS_ENV, runPoint } from '../../serving/simulate.js';
import { renderCharts } from '../../report/charts/write.js';
import { withReportHtml } from '../../report/html.js';
import { MAX_WORKERS, setList, wholeNumber } from '../options.js';
import { num, textTable } from '../../report/table.js';
import { pointsCsv, POINTS_CSV_FILE } from '../../report/points-csv.js';
import { reportMd, REPORT_MD_FILE } from '../../report/report-md.js';

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
  /** Draw a progress bar on stderr (the command decides: a TTY, no CI variable, no --json; see progressWanted). */
  progress?: boolean;
  /** Also render the charts that apply (not for a shard) and write them with the summary. */
  charts?: boolean;
  /** Threads kept between runs, instead of threads started for this one (`workers` is then ignored). */
  pool?: SimulationPool;
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
 * every point ran; then the files go out together (writeOutputs). The `simulate` function can be replaced (tests);
 * the command uses runExperimentOnPool.
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
 * The same with the real simulator on a pool of worker threads (`workers`, default one per core; 1 = in this thread,
 * no threads). The results, summary.json and events.log are the same for any number of workers: each point's
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
    unit: plan.samples > 0 ? 'simulations' : 'points',
    pointError: (p, err) => pointError(plan, p, err),
  });
  const c = collect(plan, withBands(plan.points, plan.catalog, plan.samples, outcomes));
  // Charts for a whole run (a shard's would cover a slice; merge's output can be charted with `nixlsim chart`),
  // rendered before anything is written so that they go out with the summary or not at all.
  const charts = opts.charts && !plan.shard ? await renderCharts(c.summary, plan.outDir, plan.outFlag ? { flag: plan.outFlag } : {}) : [];
  return finish(plan, c, opts, charts);
}

/** Whether the command draws a progress bar: only on a terminal, never under CI (the CI variable set) or with --json. */
export function progressWanted(json: boolean, stderr: { isTTY?: boolean } = process.stderr, env: NodeJS.ProcessEnv = process.env): boolean {
  return !json && stderr.isTTY === true && (env['CI'] === undefined || env['CI'] === '');
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

// ---------------------------------------------------------------------------------------------------------------------
// The table

/** Columns of numbers align right, the rest left. */
function table(header: string[], rows: string[][], left: readonly boolean[]): string[] {
  return textTable(header, rows, (i) => left[i] === true);
}

function notes(r: PointResult, e: Experiment | undefined): string[] {
  const out: string[] = [];
  const ev = (k: string) => r.events[k] ?? 0;
  if (ev('kv_blocks_expired') > 0) {
    // Say what actually followed: a fallback, failures, or nothing (the requests had already failed elsewhere).
    const then =
      ev('fell_back') > 0
        ? `${fellBackText(r)} fell back to prefilling on the decode worker`
        : e?.deployment.failurePolicy === 'fail' && r.requests.failed > 0
          ? 'those requests failed (failurePolicy: fail)'
          : 'no decode worker read them: their requests had already failed';
    out.push(`prefill released KV blocks no decode worker had read within the timeout (one line per prefill rank); ${then}`);
  } else if (ev('fell_back') > 0) {
    // Fallbacks for another reason (a failed KV transfer): the same split, so the counts add up here too.
    out.push(`${fellBackText(r)} fell back to prefilling on the decode worker after their KV transfer failed`);
  }
  if (ev('stale_kv_read') > 0) {
    out.push('decode read KV blocks prefill had already released: output built on stale memory, a silent wrong answer in a real deployment');
  }
  if (ev('engine_dead') > 0) out.push("an engine died (vLLM's EngineDeadError); the requests it held failed");
  if (r.requests.failed > 0) out.push(`${r.requests.failed} of ${r.requests.total} measured requests failed; the event counts above (warm-up included) say what failed them`);
  return out;
}

/**
 * How many requests fell back, as the table counts them (the measured requests that ended, summary.json's
 * requests.fellBack), with the rest of the fell_back event count (every request: warm-up, and any still running at
 * the horizon) said apart, so that the numbers add up to the event count printed above the note.
 */
function fellBackText(r: PointResult): string {
  const measured = r.requests.fellBack;
  const all = r.events['fell_back'] ?? 0;
  const text = `${measured} measured request(s)`;
  if (all <= measured) return text;
  const rest = all - measured;
  return r.requests.inFlight === 0
    ? `${text} and ${rest} warm-up request(s)`
    : `${text} and ${rest} warm-up or still-running request(s)`;
}

/** What the table needs of a point: its id and params, and its experiment for the notes when there is one (merge has none). */
export type TablePoint = Pick<Point, 'id' | 'params'> & { experiment?: Experiment };

export function formatRun(summary: Summary, points: readonly TablePoint[], summaryFile: string, shard?: ShardInfo): string {
  const n = summary.points.length;
  const lines = [
    `experiment '${summary.experiment}' (seed ${summary.seed}): ` +
      (shard ? `shard ${shard.index}/${shard.count}, ${n} of ${shard.points} points` : `${n} point${n === 1 ? '' : 's'}`) +
      `, summary in ${shownPath(summaryFile)}`,
    '',
    ...pointsTable(summary),
    '',
    'notable events: (event counts include warm-up requests; the table counts measured requests only)',
    ...notableEvents(summary, points),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The points table as `run` prints it (and report.md shows it), the bands' table under it with --uncertainty. The
 * request counts are the measured requests' (warm-up excluded), as in summary.json; "-" is a metric with no samples.
 */
export function pointsTable(summary: Summary): string[] {
  const keys = summary.points[0] ? Object.keys(summary.points[0].params) : [];
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
  return [...table(header, rows, left), ...bandLines(summary, keys, left.slice(0, 1 + keys.length))];
}

/** The notable-events lines: each point's event counts (every request, warm-up included), then notes on what they mean. */
export function notableEvents(summary: Summary, points: readonly TablePoint[]): string[] {
  const lines: string[] = [];
  const byId = new Map(points.map((p) => [p.id, p.experiment]));
  for (const r of summary.points) {
    const counts = Object.entries(r.events).filter(([, c]) => c > 0);
    lines.push(`${pointLabel(r.id, r.params)}: ${counts.length ? counts.map(([k, c]) => `${k} ${c}`).join(', ') : 'none'}`);
    for (const note of notes(r, byId.get(r.id))) lines.push(`  ${note}`);
  }
  return lines;
}

/**
 * points.csv and report.md for a whole run (or a merge of one): `files` are its other outputs, whose PNGs report.md
 * embeds; `experiments` each point's experiment, when known (not to merge).
 */
export function runReportFiles(
  summary: Summary,
  points: readonly TablePoint[],
  info: { dir: string; file?: string; origin?: string; flag?: string },
  files: readonly OutputFile[],
): OutputFile[] {
  const flag = info.flag !== undefined ? { flag: info.flag } : {};
  const experiments = points.flatMap((p) => (p.experiment ? [p.experiment] : []));
  const md = reportMd({
    experiment: summary.experiment,
    seed: summary.seed,
    ...(info.file !== undefined ? { file: info.file } : {}),
    ...(info.origin !== undefined ? { origin: info.origin } : {}),
    experiments: experiments.length === points.length ? experiments : [],
    table: pointsTable(summary),
    events: notableEvents(summary, points),
    files,
    dir: info.dir,
  });
  return [
    { path: join(info.dir, POINTS_CSV_FILE), data: pointsCsv(summary), ...flag },
    { path: join(info.dir, REPORT_MD_FILE), data: md, ...flag },
  ];
}

const bandText = (b: Band | null): string => (b ? `${num(b.p5)} / ${num(b.p50)} / ${num(b.p95)}` : '-');

/** The bands of `run --uncertainty`, a table under the main one: p5 / p50 / p95 of the numbers a planner reads. */
function bandLines(summary: Summary, keys: readonly string[], left: readonly boolean[]): string[] {
  const banded = summary.points.filter((r): r is PointResult & { bands: PointBands } => r.bands !== undefined);
  if (banded.length === 0) return [];
  const n = banded[0]!.bands.samples;
  const header = ['point', ...keys.map(shortPath), 'TTFT p50 ms', 'TTFT p95 ms', 'ITL mean ms', 'out tok/s', 'KV mean ms', 'fell back'];
  const rows = banded.map((r) => [
    r.id,
    ...keys.map((k) => valueText(r.params[k])),
    bandText(r.bands.ttftMs.p50),
    bandText(r.bands.ttftMs.p95),
    bandText(r.bands.itlMs.mean),
    bandText(r.bands.outputTokensPerS),
    bandText(r.bands.kvTransferMs.mean),
    `${r.bands.fellBackSamples}/${r.bands.samples}`,
  ]);
  return [
    '',
    `uncertainty: p5 / p50 / p95 over ${n} Monte Carlo samples a point (catalog ranges, triangular around the nominal; the table above is the nominal run)`,
    ...table(header, rows, [...left, ...header.slice(left.length).map(() => false)]),
  ];
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
  uncertainty?: number;
  debugInvariants: boolean;
}

export const runCommand: CommandModule<object, Args> = {
  command: 'run <experiment>',
  describe: 'Run an experiment file (every point of its sweep) and write reports/<name>/summary.json',
  builder: (y) =>
    y
      .positional('experiment', { type: 'string', demandOption: true, describe: 'experiment file, .yaml or .json (experiments/README.md)' })
      .option('out', { type: 'string', requiresArg: true, describe: 'report directory (default: ./reports/<name>/, or ./reports/<name>/shard-i-of-n/ with --shard)' })
      .option('seed', { requiresArg: true, describe: "override the experiment's seed", coerce: wholeNumber('seed', 0) })
      .option('set', { type: 'string', requiresArg: true, describe: 'override a field before validation: path=value (repeatable), e.g. deployment.prefill.tp=2 or sweep.deployment.transport=[tcp,ib-rdma]', coerce: setList })
      .option('workers', { requiresArg: true, describe: 'worker threads simulating points in parallel (default: one per core when the sweep is large enough to gain from them, else none; 1: no threads)', coerce: wholeNumber('workers', 1, MAX_WORKERS) })
      .option('uncertainty', { requiresArg: true, describe: `also run each point n times with the catalog's uncertain figures (transport bandwidth, GPU efficiency factors) drawn from their ranges, and report p5/p50/p95 bands (n from 2 to ${MAX_SAMPLES})`, coerce: wholeNumber('uncertainty', 2, MAX_SAMPLES) })
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
      ...(a.uncertainty !== undefined ? { uncertainty: a.uncertainty } : {}),
      json: a.json,
      progress: progressWanted(a.json),
      charts: true,
    });
    const pngs = r.files.filter((f) => f.endsWith('.png'));
    process.stdout.write(r.text + (pngs.length && !a.json ? `charts: ${pngs.map((f) => shownPath(f)).join(', ')}\n` : ''));
  },
};
