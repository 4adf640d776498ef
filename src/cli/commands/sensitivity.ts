import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../../errors.js';
import { pointLabel } from '../../experiment/jobs.js';
import { DEFAULT_SENSITIVITY_METRIC, SENSITIVITY_METRIC_NAMES, type SensitivityMetric, type SensitivityResult } from '../../experiment/sensitivity.js';
import { shownPath } from '../../experiment/yaml-errors.js';
// charts/data.js by name, not charts/index.js: that re-exports render.js, whose vega, vega-lite and resvg would then
// load with this command's module.
import { parameterValueText } from '../../report/charts/data.js';
import { num, textTable } from '../../report/table.js';
import { runSensitivity, sensitivityJson } from '../../run/sensitivity.js';
import { MAX_WORKERS, progressWanted, setList, wholeNumber } from '../options.js';

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
