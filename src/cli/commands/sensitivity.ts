import { join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { defaultCatalog } from '../../catalog/load.js';
import type { Catalog } from '../../spec/catalog.js';
import { UserError } from '../../errors.js';
import { expandPoints, loadExperiment } from '../../experiment/load.js';
import {
  DEFAULT_SENSITIVITY_METRIC,
  pickPoint,
  rankSensitivity,
  SENSITIVITY_METRIC_NAMES,
  sensitivityJobs,
  type SensitivityMetric,
  type SensitivityResult,
} from '../../experiment/sensitivity.js';
import { shownPath } from '../../experiment/yaml-errors.js';
// The chart modules by name, not charts/index.js: that re-exports render.js, whose vega, vega-lite and resvg would
// then load for every command (main.ts imports them all); chartOutputs loads the renderer when a chart is drawn.
import { parameterValueText } from '../../report/charts/data.js';
import { tornadoSpec } from '../../report/charts/kinds.js';
import { chartOutputs } from '../../report/charts/write.js';
import { checkOutputDir, defaultReportDir, writeOutputs } from '../../spec/output.js';
import { MAX_WORKERS, setList, wholeNumber } from '../options.js';
import { num, textTable } from '../../report/table.js';
import { pointLabel } from '../../experiment/jobs.js';
import { simulateJobs } from '../../run/simulate.js';
import { progressWanted } from '../options.js';

export const SENSITIVITY_FILE = 'sensitivity.json';

export interface SensitivityOptions {
  /** Output directory; default reports/<name>/sensitivity/ under the working directory. */
  out?: string;
  seed?: number;
  set?: string[];
  metric?: SensitivityMetric;
  /** The point to study (its id, p000, ...); default the sweep's first. */
  point?: string;
  workers?: number;
  progress?: boolean;
  catalog?: Catalog;
}

export interface SensitivityOutput {
  result: SensitivityResult;
  outDir: string;
  /** sensitivity.json, tornado.vl.json, tornado.svg, tornado.png. */
  files: string[];
}

/**
 * Simulates one point of an experiment at its nominal figures and with each uncertain figure at the min and at the
 * max of its range (on the worker pool), ranks the figures by how far they move the metric, and writes
 * sensitivity.json and the tornado chart. Nothing is written unless every simulation ran and the chart rendered.
 */
export async function runSensitivity(file: string, opts: SensitivityOptions = {}): Promise<SensitivityOutput> {
  const catalog = opts.catalog ?? defaultCatalog();
  const loaded = loadExperiment(file, {
    ...(opts.set ? { set: opts.set } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    catalog,
  });
  const point = pickPoint(expandPoints(loaded), opts.point);
  const outDir = opts.out !== undefined ? resolve(opts.out) : defaultReportDir(loaded.experiment.name, 'sensitivity');
  const flag = opts.out !== undefined ? `--out ${opts.out}` : undefined;
  checkOutputDir(outDir, flag);
  const { params, jobs } = sensitivityJobs(point, catalog);
  const outcomes = await simulateJobs(jobs, {
    catalog,
    ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
    ...(opts.progress !== undefined ? { progress: opts.progress } : {}),
    unit: 'simulations',
  });
  const result = rankSensitivity(point, params, outcomes, opts.metric ?? DEFAULT_SENSITIVITY_METRIC);
  const chart = await chartOutputs(outDir, 'tornado', tornadoSpec(result), flag);
  // All four or none: the directory appears with every file in it.
  const files = writeOutputs([{ path: join(outDir, SENSITIVITY_FILE), data: sensitivityJson(result), ...(flag !== undefined ? { flag } : {}) }, ...chart], { dir: outDir });
  return { result, outDir, files };
}

export function sensitivityJson(result: SensitivityResult): string {
  return `${JSON.stringify(result, null, 2)}\n`;
}

/** The ranked table: each parameter's range, the metric at its min and at its max, and the swing. */
export function sensitivityTable(r: SensitivityResult): string[] {
  const m = `${r.label} ${r.unit}`;
  const header = ['rank', 'parameter', 'min', 'nominal', 'max', `${m} at min`, `${m} at max`, `swing ${r.unit}`];
  const rows = r.parameters.map((p, i) => [
    String(i + 1),
    p.label,
    parameterValueText(p.low.value, p.unit),
    parameterValueText(p.nominal, p.unit),
    parameterValueText(p.high.value, p.unit),
    num(p.low.metric),
    num(p.high.metric),
    num(p.swing),
  ]);
  return textTable(header, rows, (i) => i === 1);
}

function metricFlag(v: unknown): SensitivityMetric {
  const s = String(v);
  if (!(SENSITIVITY_METRIC_NAMES as string[]).includes(s)) {
    throw new UserError(`--metric must be one of ${SENSITIVITY_METRIC_NAMES.join(', ')}, got '${s}'`);
  }
  return s as SensitivityMetric;
}

interface Args {
  experiment: string;
  out?: string;
  seed?: number;
  set?: string[];
  metric: SensitivityMetric;
  point?: string;
  workers?: number;
  json: boolean;
}

export const sensitivityCommand: CommandModule<object, Args> = {
  command: 'sensitivity <experiment>',
  describe: 'Rank the catalog figures known only within a range (transport bandwidth, GPU efficiency factors) by how far each moves a metric of one point, one at a time: table, JSON, tornado chart',
  builder: (y) =>
    y
      .positional('experiment', { type: 'string', demandOption: true, describe: 'experiment file, .yaml or .json' })
      .option('point', { type: 'string', requiresArg: true, describe: "the sweep point to study, by id (p000, p001, ...; `nixlsim run` lists them); default the sweep's first" })
      .option('metric', { default: DEFAULT_SENSITIVITY_METRIC, requiresArg: true, describe: `the metric to rank by: ${SENSITIVITY_METRIC_NAMES.join(', ')}`, coerce: metricFlag })
      .option('out', { type: 'string', requiresArg: true, describe: 'output directory (default: ./reports/<name>/sensitivity/)' })
      .option('seed', { requiresArg: true, describe: "override the experiment's seed", coerce: wholeNumber('seed', 0) })
      .option('set', { type: 'string', requiresArg: true, describe: 'override a field before validation: path=value (repeatable)', coerce: setList })
      .option('workers', { requiresArg: true, describe: 'worker threads (default: one per core when the runs are large enough to gain from them, else none; 1: no threads)', coerce: wholeNumber('workers', 1, MAX_WORKERS) })
      .option('json', { type: 'boolean', default: false, describe: 'print the JSON (also written to sensitivity.json) instead of the table' }) as unknown as Argv<Args>,
  handler: async (a) => {
    const r = await runSensitivity(a.experiment, {
      ...(a.out !== undefined ? { out: a.out } : {}),
      ...(a.seed !== undefined ? { seed: a.seed } : {}),
      ...(a.set !== undefined ? { set: a.set } : {}),
      ...(a.point !== undefined ? { point: a.point } : {}),
      ...(a.workers !== undefined ? { workers: a.workers } : {}),
      metric: a.metric,
      progress: progressWanted(a.json),
    });
    if (a.json) {
      process.stdout.write(sensitivityJson(r.result));
      return;
    }
    const res = r.result;
    const lines = [
      `sensitivity of ${res.label} at point ${pointLabel(res.point.id, res.point.params)} of '${res.experiment}' (seed ${res.seed}): ` +
        `nominal ${num(res.nominal)} ${res.unit}; each figure at the min and at the max of its catalog range, the others nominal`,
      '',
      ...sensitivityTable(res),
      '',
      `written: ${r.files.map((f) => shownPath(f)).join(', ')}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  },
};
