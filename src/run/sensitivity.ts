/**
 * `nixlsim sensitivity`'s run: one point of an experiment simulated at its nominal figures and with each uncertain
 * catalog figure at the min and at the max of its range (simulate.ts: this thread or the pool), the figures ranked by
 * how far they move the metric (experiment/sensitivity.ts), and sensitivity.json and the tornado chart written
 * together.
 */
import { join, resolve } from 'node:path';
import { defaultCatalog } from '../catalog/load.js';
import { expandPoints, loadExperiment } from '../experiment/load.js';
import { DEFAULT_SENSITIVITY_METRIC, pickPoint, rankSensitivity, sensitivityJobs, type SensitivityMetric, type SensitivityResult } from '../experiment/sensitivity.js';
// The chart modules by name, not charts/index.js: that re-exports render.js, whose vega, vega-lite and resvg would
// then load with this module; chartOutputs loads the renderer when a chart is drawn.
import { tornadoSpec } from '../report/charts/kinds.js';
import { chartOutputs } from '../report/charts/write.js';
import type { Catalog } from '../spec/catalog.js';
import { checkOutputDir, defaultReportDir, writeOutputs } from '../spec/output.js';
import { simulateJobs } from './simulate.js';

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
