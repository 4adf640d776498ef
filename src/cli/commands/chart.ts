import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../../errors.js';
import { shownPath } from '../../experiment/yaml-errors.js';
import { defaultCatalog } from '../../catalog/index.js';
import { CHART_KINDS, type ChartKind, tpMatrixRows, tpMatrixSpec, writeChart, writeCharts } from '../../report/charts/index.js';
import { SUMMARY_FILE, SUMMARY_SCHEMA_VERSION, type Summary } from '../../report/summary.js';

interface Args {
  summary?: string;
  kind?: ChartKind[];
  out?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The summary file a path names: the file itself, or a report directory's summary.json. */
export function summaryPath(file: string): string {
  const abs = resolve(file);
  return existsSync(abs) && statSync(abs).isDirectory() && existsSync(join(abs, SUMMARY_FILE)) ? join(abs, SUMMARY_FILE) : abs;
}

/** Reads a summary.json, checking the shape charts rely on; any problem is a UserError naming the file. */
export function readSummary(file: string): Summary {
  const abs = summaryPath(file);
  if (!existsSync(abs)) throw new UserError(`summary file '${file}' not found`);
  if (statSync(abs).isDirectory()) throw new UserError(`'${file}' is a directory without a ${SUMMARY_FILE}; expected a summary.json written by \`nixlsim run\``);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(abs, 'utf8'));
  } catch (err) {
    throw new UserError(`summary file '${file}' is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const bad = (what: string) => new UserError(`summary file '${file}': ${what}; expected a summary.json written by \`nixlsim run\``);
  if (!isRecord(data)) throw bad('not a JSON object');
  if (data['schemaVersion'] !== SUMMARY_SCHEMA_VERSION) throw bad(`schemaVersion is ${JSON.stringify(data['schemaVersion'])}, not ${SUMMARY_SCHEMA_VERSION}`);
  if (typeof data['experiment'] !== 'string') throw bad("no 'experiment' name");
  const points = data['points'];
  if (!Array.isArray(points)) throw bad("no 'points' list");
  points.forEach((p: unknown, i) => {
    const ok =
      isRecord(p) &&
      typeof p['id'] === 'string' &&
      isRecord(p['params']) &&
      isRecord(p['requests']) &&
      isRecord(p['ttftMs']) &&
      isRecord(p['itlMs']) &&
      isRecord(p['kvTransfer']) &&
      isRecord((p['kvTransfer'] as Record<string, unknown>)['ms']) &&
      isRecord(p['throughput']);
    if (!ok) throw bad(`points[${i}] lacks id, params, requests, ttftMs, itlMs, kvTransfer or throughput`);
  });
  return data as unknown as Summary;
}

/** yargs gives one string for one --kind and a list for several; either may hold commas. */
function kindList(v: unknown): ChartKind[] {
  const names = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(',')).map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(CHART_KINDS as readonly string[]).includes(n)) throw new UserError(`--kind must be one of ${CHART_KINDS.join(', ')}; got '${n}'`);
  }
  return [...new Set(names)] as ChartKind[];
}

export interface ChartRun {
  files: string[];
  skipped: string[];
}

/** The command's work: charts of a summary (or the TP matrix alone) into a directory. */
export async function chartFiles(a: Args): Promise<ChartRun> {
  const skipped: string[] = [];
  if (a.summary === undefined) {
    if (!a.kind || a.kind.length === 0 || a.kind.some((k) => k !== 'tp-matrix')) {
      throw new UserError('give a summary.json to chart; only `--kind tp-matrix` works without one');
    }
    const spec = tpMatrixSpec(tpMatrixRows(defaultCatalog()));
    return { files: await writeChart(resolve(a.out ?? '.'), 'tp-matrix', spec), skipped };
  }
  const summary = readSummary(a.summary);
  const out = resolve(a.out ?? dirname(summaryPath(a.summary)));
  const files = await writeCharts(summary, out, {
    ...(a.kind && a.kind.length ? { kinds: a.kind } : {}),
    onSkip: (_kind, reason) => skipped.push(reason),
  });
  return { files, skipped };
}

export const chartCommand: CommandModule<object, Args> = {
  command: 'chart [summary]',
  describe: 'Draw charts (Vega-Lite .vl.json, .svg, .png) from a summary.json; --kind tp-matrix needs no summary',
  builder: (y) =>
    y
      .positional('summary', { type: 'string', describe: 'summary.json written by `nixlsim run` (or its report directory)' })
      .option('kind', {
        type: 'string',
        array: true,
        requiresArg: true,
        describe: `chart kinds (default: those the sweep supports): ${CHART_KINDS.join(', ')}`,
        coerce: kindList,
      })
      .option('out', { type: 'string', requiresArg: true, describe: "directory for the charts (default: the summary's directory, or . for tp-matrix alone)" }) as unknown as Argv<Args>,
  handler: async (a) => {
    const { files, skipped } = await chartFiles(a);
    for (const s of skipped) process.stderr.write(`nixlsim: note: ${s}\n`);
    if (files.length === 0) throw new UserError(`no chart to draw from '${a.summary}'${skipped.length ? '' : ': the summary has no points with data'}`);
    process.stdout.write(`${files.map((f) => `wrote ${shownPath(f)}`).join('\n')}\n`);
  },
};
