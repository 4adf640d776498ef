import type { Argv, CommandModule } from 'yargs';
import { existsSync } from 'node:fs';
import { readInputText } from '../../input.js';
import { calibrate, calibrateNixlbench, type NixlbenchCalibrateResult } from '../../calibrate/calibrate.js';
import { isNixlbenchText } from '../../calibrate/fit-nixlbench.js';
import { shownPath } from '../../experiment/yaml-errors.js';
import { num, textTable } from '../../report/table.js';
import { DEFAULT_FACTORS, FACTORS, type FactorName } from '../../calibrate/fit-gpu.js';
import { catalogUsage, formatCalibrate } from '../../calibrate/format.js';
import { UserError } from '../../errors.js';
import { closest } from '../../catalog/suggest.js';
import { userCatalogDirs, useUserCatalog } from '../../catalog/load.js';
import { measuredRunArgs, measureOptions, type MeasureArgs } from '../measure-options.js';
import { commaList, wholeNumber } from '../options.js';

type Args = MeasureArgs & {
  gpu?: string;
  out?: string;
  transportOut?: string;
  force: boolean;
  fit?: FactorName[];
  transport?: string;
  node?: string;
  rails?: number;
  numThreads: number;
};

/** Whether every file is nixlbench output (its results header), rather than a serving benchmark's. */
function allNixlbench(files: readonly string[]): boolean {
  return files.length > 0 && files.every((f) => {
    try {
      return isNixlbenchText(readInputText(f, 'measurements file'));
    } catch {
      return false;
    }
  });
}

function formatNixlbench(r: NixlbenchCalibrateResult): string {
  const rows = r.rows.map((x) => [x.where, String(x.blockSize), String(x.batchSize), num(x.measuredUs), num(x.modeledUs), `${x.error >= 0 ? '+' : ''}${(x.error * 100).toFixed(1)}%`]);
  return [
    `transport ${r.transport} fitted to nixlbench: per transfer ${num(r.perReadUs)} us, per descriptor ${num(r.perDescriptorUs)} us, ${num(r.bandwidthGBps)} GB/s over ${r.rails} rail(s) (${num(r.bandwidthPerRailGBps)} a rail)`,
    '',
    ...textTable(['row', 'block size', 'batch size', 'measured us', 'modeled us', 'error'], rows, (i) => i === 0),
    '',
    `rms error ${(r.rmsError * 100).toFixed(1)}%; wrote ${shownPath(r.file)}`,
    catalogUsage(r.file, 'transport'),
  ].join('\n') + '\n';
}

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
  describe: "Fit a GPU's efficiency factors (and a transport's bandwidth and latency) to measured runs, or a transport's costs to nixlbench output; write catalog records",
  builder: (y) =>
    measureOptions(y, { experimentRequired: false, files: 'measurement files: genai-perf export (.json/.csv), vLLM bench serve result (.json), the plain CSV, or nixlbench output (its printed table)' })
      .option('gpu', { type: 'string', requiresArg: true, describe: "the GPU the measurements ran on (the deployment's); not for nixlbench output" })
      .option('transport', { type: 'string', requiresArg: true, describe: 'with nixlbench output: the transport it measured (nixlsim list transports)' })
      .option('node', { type: 'string', requiresArg: true, describe: 'with nixlbench output: the node both GPUs sat on (default: the first offering the transport)' })
      .option('rails', { requiresArg: true, describe: "with nixlbench output: rails one GPU's transfers striped over (default: the backend's rule for one GPU: UCX 2, libfabric its GPU's EFA devices)", coerce: wholeNumber('rails', 1, 1024) })
      .option('num-threads', { default: 1, requiresArg: true, describe: "with nixlbench output: nixlbench's --num_threads", coerce: wholeNumber('num-threads', 1, 1024) })
      .option('out', { type: 'string', requiresArg: true, describe: 'the GPU record to write (default <catalog>/gpu/<gpu>-calibrated.yaml, where <catalog> is --catalog, else ./nixlsim-catalog; the file name is its id)' })
      .option('transport-out', { type: 'string', requiresArg: true, describe: 'the transport record to write when the measurements carry KV transfer times, or from nixlbench output (default <catalog>/transport/<transport>-calibrated.yaml)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace existing files' })
      .option('fit', { type: 'string', requiresArg: true, describe: `factors to fit, comma-separated (default ${DEFAULT_FACTORS.join(", ")}, plus eagerLayerOverheadS for an eager deployment; any of ${FACTORS.join(", ")}); the rest keep the catalog's values`, coerce: factorList }) as unknown as Argv<Args>,
  handler: (a) => {
    // The records go into the user's catalog (the first given), which calibrate may be about to create: until then
    // it is not read.
    const catalogDir = userCatalogDirs()[0];
    if (catalogDir !== undefined && !existsSync(catalogDir)) useUserCatalog(userCatalogDirs().slice(1));
    const into = catalogDir !== undefined ? { catalogDir } : {};
    if (allNixlbench(a.measurements)) {
      if (a.transport === undefined) throw new UserError('nixlbench output calibrates a transport: name it (nixlsim list transports)', '--transport');
      const n = calibrateNixlbench(a.measurements, {
        transport: a.transport,
        ...(a.node !== undefined ? { node: a.node } : {}),
        ...(a.rails !== undefined ? { rails: a.rails } : {}),
        threads: a.numThreads,
        force: a.force,
        ...into,
        ...(a.transportOut !== undefined ? { transportOut: a.transportOut } : {}),
      });
      process.stdout.write(a.json ? `${JSON.stringify(n)}\n` : formatNixlbench(n));
      return;
    }
    if (a.experiment === undefined) throw new UserError('give the experiment file whose deployment the measurements ran on', '--experiment');
    if (a.gpu === undefined) throw new UserError("give the GPU the measurements ran on (the deployment's)", '--gpu');
    const r = calibrate(a.measurements, {
      ...measuredRunArgs(a),
      gpu: a.gpu,
      force: a.force,
      ...into,
      ...(a.out !== undefined ? { out: a.out } : {}),
      ...(a.transportOut !== undefined ? { transportOut: a.transportOut } : {}),
      ...(a.fit !== undefined ? { factors: a.fit } : {}),
    });
    process.stdout.write(a.json ? `${JSON.stringify(r)}\n` : formatCalibrate(r));
  },
};
