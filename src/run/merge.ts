/**
 * The last steps of a sharded run: the outputs of `nixlsim run --shard i/n` read and checked (experiment/shard.ts),
 * then written as the unsharded run writes them (summary.json, events.log, points.csv, report.md and report.html,
 * with the charts), all or nothing.
 */
import { join, resolve } from 'node:path';
import { EVENTS_LOG_FILE, mergeShards } from '../experiment/shard.js';
import { renderCharts } from '../report/charts/write.js';
import { withReportHtml } from '../report/html.js';
import { formatRun, runReportFiles } from '../report/run-table.js';
import { checkOutputDir, defaultReportDir, writeOutputs, type OutputFile } from '../spec/output.js';
import { SUMMARY_FILE, summaryJson, type Summary } from '../spec/summary.js';

export interface MergeOptions {
  /** Where to write the joined summary.json (and events.log); default reports/<name>/ under the working directory. */
  out?: string;
  /** Make `text` the summary JSON instead of the table. */
  json?: boolean;
}

export interface MergeOutput {
  summary: Summary;
  /** Absolute path of the directory written to. */
  outDir: string;
  /** What the command prints. Ends with a newline. */
  text: string;
}

/** What merging read and checked, before anything is written. */
interface Merged {
  summary: Summary;
  outDir: string;
  log: string | undefined;
  shards: number;
  flag: { flag?: string };
}

/** Reads and checks the shards (see mergeRuns), writing nothing. */
function readShards(dirs: readonly string[], opts: MergeOptions): Merged {
  const flag = opts.out !== undefined ? { flag: `--out ${opts.out}` } : {};
  if (opts.out !== undefined) checkOutputDir(opts.out, flag.flag);
  const merged = mergeShards(dirs.map((d) => resolve(d)));
  const { summary } = merged;
  const outDir = opts.out !== undefined ? resolve(opts.out) : defaultReportDir(summary.experiment);
  return { summary, outDir, log: merged.log, shards: merged.shards.length, flag };
}

/** Writes the merged run's files and `charts` together, all or none; builds what to print. */
function writeMerged(m: Merged, opts: MergeOptions, charts: readonly OutputFile[]): MergeOutput {
  const { summary, outDir, flag } = m;
  // All files or none (charts, points.csv, report.md and report.html with them); events.log first, as run writes them.
  writeOutputs(withReportHtml([
    ...(m.log !== undefined ? [{ path: join(outDir, EVENTS_LOG_FILE), data: m.log, ...flag }] : []),
    { path: join(outDir, SUMMARY_FILE), data: summaryJson(summary), ...flag },
    ...charts,
    ...runReportFiles(summary, summary.points, { dir: outDir, origin: `merged from ${m.shards} shard summaries`, ...flag }, charts), // points.csv, report.md
  ], { dir: outDir, title: `nixlsim merge: ${summary.experiment}`, text: formatRun(summary, summary.points, join(outDir, SUMMARY_FILE)), ...flag }), { dir: outDir });
  const written = resolve(outDir, SUMMARY_FILE);
  const n = m.shards;
  const text = opts.json
    ? summaryJson(summary)
    : `merged ${n} shard${n === 1 ? '' : 's'}\n${formatRun(summary, summary.points, written)}`;
  return { summary, outDir, text };
}

/**
 * Joins the outputs of `nixlsim run --shard i/n` (one directory per shard, every shard exactly once) into the
 * summary.json and events.log the unsharded run writes, byte for byte. Everything is read and checked before anything
 * is written; a mismatch (another experiment, seed or shard count, a shard missing or given twice, a point missing or
 * duplicated) is a UserError naming the directory. No charts: mergeRunsWithCharts draws them.
 */
export function mergeRuns(dirs: readonly string[], opts: MergeOptions = {}): MergeOutput {
  return writeMerged(readShards(dirs, opts), opts, []);
}

/**
 * mergeRuns with the whole run's charts, as an unsharded run draws them (a shard draws none: it holds a slice of the
 * points), rendered before anything is written and written with the rest, so report.html and report.md show them.
 */
export async function mergeRunsWithCharts(dirs: readonly string[], opts: MergeOptions = {}): Promise<MergeOutput> {
  const m = readShards(dirs, opts);
  return writeMerged(m, opts, await renderCharts(m.summary, m.outDir, m.flag));
}
