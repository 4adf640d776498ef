import type { Argv, CommandModule } from 'yargs';
import { calibrate } from '../../calibrate/calibrate.js';
import { DEFAULT_FACTORS, FACTORS, type FactorName } from '../../calibrate/fit-gpu.js';
import { formatCalibrate } from '../../calibrate/format.js';
import { UserError } from '../../errors.js';
import { closest } from '../../catalog/suggest.js';
import { measuredRunArgs, measureOptions, type MeasureArgs } from '../measure-options.js';
import { commaList } from '../options.js';

type Args = MeasureArgs & { gpu: string; out?: string; transportOut?: string; force: boolean; fit?: FactorName[] };

function factorList(v: unknown): FactorName[] {
  const names = commaList(v);
  for (const n of names) {
    if (!(FACTORS as readonly string[]).includes(n)) {
      const guess = closest(n, FACTORS);
      throw new UserError(`--fit: unknown factor '${n}'${guess ? `; did you mean '${guess}'?` : `; expected ${FACTORS.join(', ')}`}`);
    }
  }
  return [...new Set(names)] as FactorName[];
}

export const calibrateCommand: CommandModule<object, Args> = {
  command: 'calibrate <measurements..>',
  describe: "Fit a GPU's efficiency factors (and a transport's bandwidth and latency) to measured runs; write catalog records",
  builder: (y) =>
    measureOptions(y)
      .option('gpu', { type: 'string', demandOption: true, requiresArg: true, describe: "the GPU the measurements ran on (the deployment's)" })
      .option('out', { type: 'string', requiresArg: true, describe: 'the GPU record to write (default models/gpu/<gpu>-calibrated.yaml; the file name is its id)' })
      .option('transport-out', { type: 'string', requiresArg: true, describe: 'the transport record to write when the measurements carry KV transfer times (default models/transport/<transport>-calibrated.yaml)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace existing files' })
      .option('fit', { type: 'string', requiresArg: true, describe: `factors to fit, comma-separated (default ${DEFAULT_FACTORS.join(", ")}, plus eagerLayerOverheadS for an eager deployment; any of ${FACTORS.join(", ")}); the rest keep the catalog's values`, coerce: factorList }) as unknown as Argv<Args>,
  handler: (a) => {
    const r = calibrate(a.measurements, {
      ...measuredRunArgs(a),
      gpu: a.gpu,
      force: a.force,
      ...(a.out !== undefined ? { out: a.out } : {}),
      ...(a.transportOut !== undefined ? { transportOut: a.transportOut } : {}),
      ...(a.fit !== undefined ? { factors: a.fit } : {}),
    });
    process.stdout.write(a.json ? `${JSON.stringify(r)}\n` : formatCalibrate(r));
  },
};
