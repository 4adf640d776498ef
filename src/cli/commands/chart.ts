import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../../errors.js';
import { shownPath, type Path } from '../../experiment/yaml-errors.js';
import { JsonFile } from '../../yaml/json-file.js';
import { defaultCatalog } from '../../catalog/index.js';
import type { SensitivityResult } from '../../experiment/sensitivity.js';
import type { PlanJson } from '../../plan/types.js';
import { paretoRows, planParetoOptions } from '../../plan/report.js';
import { tpMatrixRows, transferCurveRows } from '../../report/charts/data.js';
import { CHART_KINDS, type ChartKind, tornadoSpec, tpMatrixSpec, transferCurveSpec } from '../../report/charts/kinds.js';
import { paretoSpec } from '../../report/charts/pareto.js';
import { chartOutputs, renderCharts, writeChart } from '../../report/charts/write.js';
import { checkOutputDir, writeOutputs } from '../../spec/output.js';
import { SUMMARY_FILE, SUMMARY_SCHEMA_VERSION, type Summary } from '../../spec/summary.js';
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

const SENSITIVITY_FILE = 'sensitivity.json';
const PLAN_FILE = 'plan.json';

/**
 * What a chart input is: a sensitivity.json (its tornado), a plan.json (its Pareto chart), else a summary.json. A
 * directory is looked into for summary.json, then sensitivity.json, then plan.json; a file goes by its contents.
 */
export function chartInput(file: string): { kind: 'summary' | 'sensitivity' | 'plan'; path: string } {
  const abs = resolve(file);
  if (existsSync(abs) && statSync(abs).isDirectory()) {
    if (existsSync(join(abs, SUMMARY_FILE))) return { kind: 'summary', path: join(abs, SUMMARY_FILE) };
    if (existsSync(join(abs, SENSITIVITY_FILE))) return { kind: 'sensitivity', path: join(abs, SENSITIVITY_FILE) };
    if (existsSync(join(abs, PLAN_FILE))) return { kind: 'plan', path: join(abs, PLAN_FILE) };
    return { kind: 'summary', path: abs };
  }
  if (existsSync(abs)) {
    let data: unknown;
    try {
      data = new JsonFile(abs, 'summary.json, sensitivity.json or plan.json').data;
    } catch {
      return { kind: 'summary', path: abs }; // not JSON: readSummary says where it breaks, as for any summary
    }
    if (isRecord(data) && !('points' in data)) {
      if (Array.isArray(data['parameters']) && typeof data['nominal'] === 'number' && isRecord(data['point'])) return { kind: 'sensitivity', path: abs };
      if (Array.isArray(data['ranked']) && isRecord(data['inputs']) && isRecord(data['verdict'])) return { kind: 'plan', path: abs };
    }
  }
  return { kind: 'summary', path: abs };
}

/** The one kind a sensitivity.json or plan.json draws; other kinds asked for are a UserError naming it. */
function onlyKind(want: ChartKind, input: string, asked: readonly ChartKind[] | undefined): void {
  const other = (asked ?? []).filter((k) => k !== want);
  if (other.length) throw new UserError(`'${input}' draws only the ${want} chart; --kind ${other.join(', ')} needs a summary.json`);
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
      throw new UserError(
        'give a summary.json to chart (or a sensitivity.json for tornado, a plan.json for pareto); only `--kind tp-matrix` and `--kind transfer-curve` work without one',
      );
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
  const input = chartInput(a.summary);
  if (input.kind !== 'summary') {
    const out = resolve(a.out ?? dirname(input.path));
    checkOutputDir(out, flag.flag);
    const data = new JsonFile(input.path, `${input.kind}.json`).data;
    if (input.kind === 'sensitivity') {
      onlyKind('tornado', a.summary, a.kind);
      return { files: writeOutputs(await chartOutputs(out, 'tornado', tornadoSpec(data as SensitivityResult), flag.flag), { dir: out }), skipped };
    }
    onlyKind('pareto', a.summary, a.kind);
    const plan = data as PlanJson;
    return { files: writeOutputs(await chartOutputs(out, 'pareto', paretoSpec(paretoRows(plan), planParetoOptions(plan, paretoRows(plan))), flag.flag), { dir: out }), skipped };
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
  return { files: files.length ? writeOutputs(files, { dir: out }) : [], skipped };
}

export const chartCommand: CommandModule<object, Args> = {
  command: 'chart [summary]',
  describe:
    'Draw charts (Vega-Lite .vl.json, .svg, .png) from a summary.json, the tornado from a sensitivity.json, the Pareto chart from a plan.json; --kind tp-matrix and transfer-curve need no input',
  builder: (y) =>
    y
      .positional('summary', { type: 'string', describe: 'summary.json written by `nixlsim run`, sensitivity.json, plan.json, or the directory holding one' })
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
    // Nothing drawn is one error that says why; otherwise a note for each kind asked for but skipped.
    if (files.length === 0) throw new UserError(`no chart to draw from '${a.summary}': ${skipped.length ? skipped.join('; ') : 'the summary has no points with data'}`);
    for (const s of skipped) process.stderr.write(`nixlsim: note: ${s}\n`);
    process.stdout.write(`${files.map((f) => `wrote ${shownPath(f)}`).join('\n')}\n`);
  },
};
