import { join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { defaultCatalog, projectRoot } from '../../catalog/load.js';
import type { Catalog } from '../../catalog/types.js';
import { InvariantError, UserError } from '../../errors.js';
import { expandPoints, loadExperiment } from '../../experiment/load.js';
import type { Experiment, Point, PointResult } from '../../experiment/types.js';
import { shownPath } from '../../experiment/yaml-errors.js';
import type { EventLog } from '../../metrics/event-log.js';
import { buildSummary, summaryJson, writeFileAtomic, writeSummary, type Summary } from '../../report/summary.js';
import { runPoint } from '../../serving/simulate.js';
import { wholeNumber } from '../options.js';

export interface RunOptions {
  /** Report directory; default reports/<name>/ under the project root. */
  out?: string;
  seed?: number;
  set?: string[];
  /** Make `text` the summary JSON instead of the table. */
  json?: boolean;
  catalog?: Catalog;
}

/** Simulates one point; may also hand back its event log, whose lines go to events.log. */
export type SimulateFn = (point: Point, catalog: Catalog) => PointResult | { result: PointResult; log: EventLog };

export interface RunOutput {
  summary: Summary;
  /** Absolute path of the directory summary.json was written to. */
  outDir: string;
  /** What the command prints: the table, or with json the summary JSON. Ends with a newline. */
  text: string;
}

/**
 * Loads the experiment (validating every point before any runs), simulates each point in turn, writes
 * <out>/summary.json and returns what to print. Nothing is written unless every point ran.
 */
export function runExperiment(file: string, opts: RunOptions = {}, simulate: SimulateFn = runPoint): RunOutput {
  const catalog = opts.catalog ?? defaultCatalog();
  const loaded = loadExperiment(file, {
    ...(opts.set ? { set: opts.set } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    catalog,
  });
  const points = expandPoints(loaded);
  const logs: string[] = [];
  const results = points.map((p) => {
    let r: PointResult;
    try {
      const out = simulate(p, catalog);
      if ('log' in out) {
        r = out.result;
        const kept = out.log.lines();
        logs.push(`# ${pointLabel(p.id, p.params)}: ${out.log.total} events` + (out.log.dropped ? `, the newest ${kept.length} kept` : ''), ...kept, '');
      } else {
        r = out;
      }
    } catch (err) {
      // The simulator found the deployment impossible (e.g. the model does not fit): say which point.
      if (err instanceof UserError) throw new UserError(`point ${pointLabel(p.id, p.params)}: ${err.message}`);
      throw err;
    }
    if (r.id !== p.id) throw new InvariantError(`simulating point ${p.id} returned the result of point ${r.id}`);
    // The point's params are the sweep's, in file order; summary.json keeps that order, so take them from the source.
    return { ...r, params: p.params };
  });
  const { name, seed } = loaded.experiment;
  const summary = buildSummary(name, seed, results);
  const outDir = opts.out !== undefined ? resolve(opts.out) : join(projectRoot(), 'reports', name);
  const written = writeSummary(outDir, summary);
  if (logs.length > 0) writeFileAtomic(outDir, 'events.log', logs.join('\n'));
  const text = opts.json ? summaryJson(summary) : formatRun(summary, points, written);
  return { summary, outDir, text };
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

function pointLabel(id: string, params: Record<string, unknown>): string {
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

export function formatRun(summary: Summary, points: Point[], summaryFile: string): string {
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
    `experiment '${summary.experiment}' (seed ${summary.seed}): ${n} point${n === 1 ? '' : 's'}, summary in ${shownPath(summaryFile)}`,
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
      .option('out', { type: 'string', requiresArg: true, describe: 'report directory (default: reports/<name>/)' })
      .option('seed', { requiresArg: true, describe: "override the experiment's seed", coerce: wholeNumber('seed', 0) })
      .option('set', { type: 'string', requiresArg: true, describe: 'override a field before validation: path=value (repeatable), e.g. deployment.prefill.tp=2 or sweep.deployment.transport=[tcp,ib-rdma]', coerce: setList })
      .option('json', { type: 'boolean', default: false, describe: 'print summary.json instead of the table' }) as unknown as Argv<Args>,
  handler: (a) => {
    const r = runExperiment(a.experiment, {
      ...(a.out !== undefined ? { out: a.out } : {}),
      ...(a.seed !== undefined ? { seed: a.seed } : {}),
      ...(a.set !== undefined ? { set: a.set } : {}),
      json: a.json,
    });
    process.stdout.write(r.text);
  },
};
