import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../../errors.js';
import { shownPath, type Path } from '../../experiment/yaml-errors.js';
import { JsonFile } from '../../yaml/json-file.js';
import { defaultCatalog } from '../../catalog/index.js';
import { tpMatrixRows, transferCurveRows } from '../../report/charts/data.js';
import { CHART_KINDS, type ChartKind, tpMatrixSpec, transferCurveSpec } from '../../report/charts/kinds.js';
import { renderCharts, writeChart } from '../../report/charts/write.js';
import { checkOutputDir, writeOutputs } from '../../report/output.js';
import { SUMMARY_FILE, SUMMARY_SCHEMA_VERSION, type Summary } from '../../report/summary.js';
import { commaList } from '../options.js';

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

/** What each point of a summary must hold for charts: key -> whether it is a map (else a string). */
const POINT_KEYS: [string, 'map' | 'string'][] = [
  ['id', 'string'], ['params', 'map'], ['requests', 'map'], ['ttftMs', 'map'], ['itlMs', 'map'], ['kvTransfer', 'map'], ['throughput', 'map'],
];

/**
 * Reads a summary.json, checking the shape charts rely on; any problem is a UserError naming the file, and for a
 * mistake inside it the line, column and field (`summary.json:3:3 schemaVersion: expected 1, got 2; ...`).
 */
export function readSummary(file: string): Summary {
  const abs = summaryPath(file);
  if (!existsSync(abs)) throw new UserError(`summary file '${file}' not found`);
  if (statSync(abs).isDirectory()) throw new UserError(`'${file}' is a directory without a ${SUMMARY_FILE}; expected a summary.json written by \`nixlsim run\``);
  const j = new JsonFile(abs, 'summary.json written by `nixlsim run`');
  const data = j.data;
  const bad = (path: Path, what: string) => j.error(path, `${what} (in a summary.json written by \`nixlsim run\`)`);
  const expected = (what: string, v: unknown) => (v === undefined ? `missing; expected ${what}` : `expected ${what}, got ${JSON.stringify(v)}`);
  if (!isRecord(data)) throw bad([], `expected a JSON object, got ${Array.isArray(data) ? 'a list' : JSON.stringify(data)}`);
  if (data['schemaVersion'] !== SUMMARY_SCHEMA_VERSION) throw bad(['schemaVersion'], expected(String(SUMMARY_SCHEMA_VERSION), data['schemaVersion']));
  if (typeof data['experiment'] !== 'string') throw bad(['experiment'], expected("the experiment's name", data['experiment']));
  const points = data['points'];
  if (!Array.isArray(points)) throw bad(['points'], expected('a list of point results', points));
  points.forEach((p: unknown, i) => {
    if (!isRecord(p)) throw bad(['points', i], 'expected a point result (a JSON object)');
    for (const [key, kind] of POINT_KEYS) {
      const v = p[key];
      if (kind === 'map' ? !isRecord(v) : typeof v !== 'string') throw bad(['points', i, key], expected(kind === 'map' ? 'a JSON object' : 'a string', v));
    }
    if (!isRecord((p['kvTransfer'] as Record<string, unknown>)['ms'])) throw bad(['points', i, 'kvTransfer', 'ms'], 'expected a JSON object of statistics');
  });
  return data as unknown as Summary;
}

/** yargs gives one string for one --kind and a list for several; either may hold commas. */
function kindList(v: unknown): ChartKind[] {
  const names = commaList(v);
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
  const flag = a.out !== undefined ? { flag: `--out ${a.out}` } : {};
  if (a.summary === undefined) {
    const standalone = ['tp-matrix', 'transfer-curve'];
    if (!a.kind || a.kind.length === 0 || a.kind.some((k) => !standalone.includes(k))) {
      throw new UserError('give a summary.json to chart; only `--kind tp-matrix` and `--kind transfer-curve` work without one');
    }
    const out = resolve(a.out ?? '.');
    checkOutputDir(out, flag.flag);
    const files: string[] = [];
    for (const kind of a.kind) {
      const spec = kind === 'tp-matrix' ? tpMatrixSpec(tpMatrixRows(defaultCatalog())) : transferCurveSpec(transferCurveRows(defaultCatalog()));
      files.push(...(await writeChart(out, kind, spec, flag.flag)));
    }
    return { files, skipped };
  }
  const summary = readSummary(a.summary);
  const out = resolve(a.out ?? dirname(summaryPath(a.summary)));
  checkOutputDir(out, flag.flag);
  // Every chart is rendered before any is written; then they go out together, or none does.
  const files = await renderCharts(summary, out, {
    ...(a.kind && a.kind.length ? { kinds: a.kind } : {}),
    onSkip: (_kind, reason) => skipped.push(reason),
    ...flag,
  });
  return { files: files.length ? writeOutputs(files) : [], skipped };
}

export const chartCommand: CommandModule<object, Args> = {
  command: 'chart [summary]',
  describe: 'Draw charts (Vega-Lite .vl.json, .svg, .png) from a summary.json; --kind tp-matrix and transfer-curve need no summary',
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
      .option('out', { type: 'string', requiresArg: true, describe: "directory for the charts (default: the summary's directory, or . for tp-matrix or transfer-curve alone)" }) as unknown as Argv<Args>,
  handler: async (a) => {
    const { files, skipped } = await chartFiles(a);
    for (const s of skipped) process.stderr.write(`nixlsim: note: ${s}\n`);
    if (files.length === 0) throw new UserError(`no chart to draw from '${a.summary}'${skipped.length ? '' : ': the summary has no points with data'}`);
    process.stdout.write(`${files.map((f) => `wrote ${shownPath(f)}`).join('\n')}\n`);
  },
};
