import { join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { EVENTS_LOG_FILE, mergeShards } from '../../experiment/shard.js';
import { checkOutputDir, defaultReportDir, writeOutputs } from '../../report/output.js';
import { SUMMARY_FILE, summaryJson, type Summary } from '../../report/summary.js';
import { writeCharts } from '../../report/charts/write.js';
import { withReportHtml } from '../../report/html.js';
import { formatRun, runReportFiles } from './run.js';

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

/**
 * Joins the outputs of `nixlsim run --shard i/n` (one directory per shard, every shard exactly once) into the
 * summary.json and events.log the unsharded run writes, byte for byte. Everything is read and checked before anything
 * is written; a mismatch (another experiment, seed or shard count, a shard missing or given twice, a point missing or
 * duplicated) is a UserError naming the directory.
 */
export function mergeRuns(dirs: readonly string[], opts: MergeOptions = {}): MergeOutput {
  const flag = opts.out !== undefined ? { flag: `--out ${opts.out}` } : {};
  if (opts.out !== undefined) checkOutputDir(opts.out, flag.flag);
  const merged = mergeShards(dirs.map((d) => resolve(d)));
  const { summary } = merged;
  const outDir = opts.out !== undefined ? resolve(opts.out) : defaultReportDir(summary.experiment);
  // All files or none (report.html with them); events.log first, as run writes them.
  writeOutputs(withReportHtml([
    ...(merged.log !== undefined ? [{ path: join(outDir, EVENTS_LOG_FILE), data: merged.log, ...flag }] : []),
    { path: join(outDir, SUMMARY_FILE), data: summaryJson(summary), ...flag },
    ...runReportFiles(summary, summary.points, { dir: outDir, origin: `merged from ${merged.shards.length} shard summaries`, ...flag }, []), // points.csv, report.md (pass the charts once merge renders them)
  ], { dir: outDir, title: `nixlsim merge: ${summary.experiment}`, text: formatRun(summary, summary.points, join(outDir, SUMMARY_FILE)), ...flag }));
  const written = resolve(outDir, SUMMARY_FILE);
  const n = merged.shards.length;
  const text = opts.json
    ? summaryJson(summary)
    : `merged ${n} shard${n === 1 ? '' : 's'}\n${formatRun(summary, summary.points, written)}`;
  return { summary, outDir, text };
}

interface Args {
  dirs: string[];
  out?: string;
  json: boolean;
}

export const mergeCommand: CommandModule<object, Args> = {
  command: 'merge <dirs...>',
  describe: 'Join the shard outputs of `run --shard i/n` into the summary.json (and events.log) of the whole run',
  builder: (y) =>
    y
      .positional('dirs', { type: 'string', array: true, demandOption: true, describe: 'the --out directory of every shard' })
      .option('out', { type: 'string', requiresArg: true, describe: 'report directory (default: ./reports/<name>/)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the merged summary.json instead of the table' }) as unknown as Argv<Args>,
  handler: async (a) => {
    const r = mergeRuns(a.dirs.map(String), { ...(a.out !== undefined ? { out: a.out } : {}), json: a.json });
    // The whole run's charts, as an unsharded run draws them (a shard draws none: it holds a slice of the points).
    await writeCharts(r.summary, r.outDir, a.out !== undefined ? { flag: `--out ${a.out}` } : {});
    process.stdout.write(r.text);
  },
};
