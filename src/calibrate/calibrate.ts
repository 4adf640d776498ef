import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { defaultCatalog, firstNodeOffering, getGpu, getLlm, getNode, getTransport, userCatalogDirs } from '../catalog/load.js';
import type { Catalog, TransportSpec } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import { describeDeployment, loadDeployment, measuredPoint, modeledValue, type MeasuredRunOptions } from '../experiment/measured.js';
import { readMeasurements, type ReadOptions } from '../measure/read.js';
import { MEASURED_METRICS, measuredValue, statisticOf, type MeasuredMetric, type MeasuredPoint } from '../measure/types.js';
import { checkOutputFile, writeOutputs } from '../spec/output.js';
import { shownPath } from '../yaml/positions.js';
import { gpuRecordText, transportRecordText } from './catalog-file.js';
import { DEFAULT_FACTORS, fitGpuFactors, FACTORS, type FactorName, type FitPoint, type GpuFit } from './fit-gpu.js';
import { fitTransport, transferSize, type TransportFit } from './fit-transport.js';
import { fitNixlbench, readNixlbench, type NixlbenchFit } from './fit-nixlbench.js';
import { railsFor } from '../physics/index.js';

/**
 * `nixlsim calibrate`: fits the GPU's efficiency factors (and, where the measurements carry KV transfer times, the
 * transport's bandwidth and latency) to measured runs of a deployment, and writes catalog records an experiment can
 * name. Everything is computed before anything is written; an existing file is replaced only with `force`.
 */
export interface CalibrateOptions extends MeasuredRunOptions {
  experiment: string;
  gpu: string;
  set?: string[];
  seed?: number;
  catalog?: Catalog;
  /** The user's catalog directory the records go into without out/transportOut: see calibrationDir. */
  catalogDir?: string;
  /** The GPU record to write; default <catalogDir>/gpu/<gpu>-calibrated.yaml. Its file name is the record's id. */
  out?: string;
  /** The transport record to write (only with transfer times); default <catalogDir>/transport/<transport>-calibrated.yaml. */
  transportOut?: string;
  /** Replace existing files. */
  force?: boolean;
  /** The factors to fit; default prefillCompute, decodeMemory, stepOverheadS, and eagerLayerOverheadS for eager engines. */
  factors?: FactorName[];
  read?: ReadOptions;
  maxIterations?: number;
}

export interface CalibratedRow {
  file: string;
  row: number;
  isl: number;
  osl: number;
  concurrency: number;
  metric: MeasuredMetric;
  measured: number;
  /** The model's value with the fitted factors. */
  modeled: number;
  /** (modeled - measured) / measured. */
  error: number;
}

export interface CalibrateResult {
  deployment: string;
  gpu?: {
    id: string;
    base: string;
    file: string;
    factors: Record<FactorName, { value: number; base: number; min: number; max: number; fitted: boolean; atLimit: boolean }>;
    rows: CalibratedRow[];
    rmsError: number;
    iterations: number;
    simulations: number;
  };
  transport?: {
    id: string;
    base: string;
    file: string;
    latencyUs: number;
    bandwidthGBps: number;
    bandwidthPerRailGBps: number;
    rails: number;
    latencyHeld: boolean;
    rows: { file: string; row: number; measuredMs: number; modeledMs: number; error: number }[];
    rmsError: number;
  };
  /** The files written, in order. */
  files: string[];
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The user's catalog `calibrate` writes into when no --out is given: nixlsim-catalog/ under the working directory. */
export const DEFAULT_CALIBRATION_DIR = 'nixlsim-catalog';

/**
 * Where calibrated records go by default: the user's catalog, never the package's models/. That is the first user
 * catalog directory in use (--catalog, NIXLSIM_CATALOG), else ./nixlsim-catalog/ (then named with --catalog to use).
 */
export function calibrationDir(given?: string): string {
  return resolve(given ?? userCatalogDirs()[0] ?? DEFAULT_CALIBRATION_DIR);
}

function outputPath(given: string | undefined, kind: 'gpu' | 'transport', id: string, catalogDir: string | undefined): { file: string; id: string } {
  const file = resolve(given ?? join(calibrationDir(catalogDir), kind, `${id}-calibrated.yaml`));
  if (!file.endsWith('.yaml')) throw new UserError(`--${kind === 'gpu' ? 'out' : 'transport-out'}: '${given}' must end in .yaml (catalog files are <id>.yaml)`);
  return { file, id: basename(file, '.yaml') };
}

function refuseOverwrite(file: string, force: boolean | undefined, flag: string): void {
  if (!force && existsSync(file)) throw new UserError(`${shownPath(file)} exists; pass --force to replace it (or ${flag} to write elsewhere)`);
}

export function calibrate(files: readonly string[], o: CalibrateOptions): CalibrateResult {
  let catalog = o.catalog ?? defaultCatalog();
  const base = loadDeployment(o.experiment, { ...(o.set ? { set: o.set } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}), catalog });
  const d = base.deployment;
  const gpu = getGpu(catalog, o.gpu);
  if (d.gpu !== gpu.id) {
    throw new UserError(`--gpu ${gpu.id}: the experiment's deployment runs on ${d.gpu} (node ${d.node}); calibrate the GPU the measurements ran on`);
  }
  const measured: MeasuredPoint[] = files.flatMap((f) => readMeasurements(f, o.read));
  const transfers = measured.filter((m) => m.kvTransferMs !== undefined);
  const timed = measured.filter((m) => MEASURED_METRICS.some((k) => measuredValue(m, k) !== undefined));
  const inputs = [...new Set(measured.map((m) => m.file))].join(', ');
  const experimentShown = shownPath(o.experiment);

  // Where the records go is checked before the fit, which can take a while: a place that cannot be written fails now.
  const gpuFlag = o.out !== undefined ? `--out ${o.out}` : undefined;
  const transportFlag = o.transportOut !== undefined ? `--transport-out ${o.transportOut}` : undefined;
  const gpuOut = timed.length > 0 ? outputPath(o.out, 'gpu', gpu.id, o.catalogDir) : undefined;
  if (gpuOut) {
    refuseOverwrite(gpuOut.file, o.force, '--out');
    checkOutputFile(gpuOut.file, gpuFlag);
  }
  const transportId = d.transport;
  const transportOut = transfers.length > 0 ? outputPath(o.transportOut, 'transport', transportId, o.catalogDir) : undefined;
  if (transportOut) {
    refuseOverwrite(transportOut.file, o.force, '--transport-out');
    checkOutputFile(transportOut.file, transportFlag);
  }

  const result: CalibrateResult = { deployment: describeDeployment(d), files: [] };
  /** flag: the option that places the file; given: that option as the user gave it (none: the default place). */
  const writes: { file: string; text: string; flag: string; given: string | undefined }[] = [];

  // The transport first: the GPU fit then models TTFT with the measured transfer figures.
  let tfit: TransportFit | undefined;
  if (transfers.length > 0) {
    if (d.mode !== 'disaggregated') throw new UserError(`${transfers[0]!.file}:${transfers[0]!.line}: row ${transfers[0]!.row}, column kv_transfer_ms: the deployment is aggregated, so it has no KV transfer to calibrate`);
    const transport = getTransport(catalog, transportId);
    const path = {
      llm: getLlm(catalog, d.model),
      transport,
      node: getNode(catalog, d.node),
      prefillTp: d.prefill.tp,
      decodeTp: d.decode.tp,
      blockSize: d.engine.blockSize,
      hostLinkBandwidth: gpu.hostLink.copyBandwidth,
    };
    const samples = transfers.map((m) => ({ label: `${m.file}:${m.line}`, ms: m.kvTransferMs!, ...transferSize(path, m) }));
    tfit = fitTransport(samples, path);
    const perRail = tfit.bandwidthPerRail;
    const fitted: TransportSpec = { ...transport, latencyS: tfit.latencyS, bandwidthPerRail: { min: perRail, typical: perRail, max: perRail } };
    catalog = { ...catalog, transports: new Map(catalog.transports).set(transport.id, fitted) };
    const how = `nixlsim calibrate: linear least squares of time = latency + posting + bytes / bandwidth over ${samples.length} KV transfer times in ${inputs} (deployment of ${experimentShown}, ${tfit.rails} rail${tfit.rails === 1 ? '' : 's'} a worker); rms error ${pct(tfit.rmsError)}`;
    const sources: Record<string, string> = { 'bandwidthPerRailGBps.typical': `${how}; the fitted worker bandwidth over its rails` };
    if (perRail < transport.bandwidthPerRail.min) sources['bandwidthPerRailGBps.min'] = `${how}; widened to hold the calibrated typical figure`;
    if (perRail > transport.bandwidthPerRail.max) sources['bandwidthPerRailGBps.max'] = `${how}; widened to hold the calibrated typical figure`;
    sources['latencyUs'] = tfit.latencyHeld ? `${transport.sources['latencyUs'] ?? 'base record'}; kept by nixlsim calibrate (the fitted intercept was not positive)` : `${how}; the intercept`;
    const header = `Written by \`nixlsim calibrate\` from ${inputs} on the deployment of ${experimentShown}.\nThe base transport '${transport.id}' with the measured bandwidth and latency; re-run calibrate rather than editing.`;
    writes.push({ file: transportOut!.file, text: transportRecordText(transport, transportOut!.id, tfit, sources, header), flag: '--transport-out', given: transportFlag });
    result.transport = {
      id: transportOut!.id,
      base: transport.id,
      file: transportOut!.file,
      latencyUs: tfit.latencyS * 1e6,
      bandwidthGBps: tfit.bandwidth / 1e9,
      bandwidthPerRailGBps: perRail / 1e9,
      rails: tfit.rails,
      latencyHeld: tfit.latencyHeld,
      rows: tfit.rows.map((r, i) => ({ file: transfers[i]!.file, row: transfers[i]!.row, measuredMs: r.measuredMs, modeledMs: r.modeledMs, error: r.error })),
      rmsError: tfit.rmsError,
    };
  }

  if (gpuOut) {
    const eager = d.engine.enforceEager === true;
    const factors = o.factors ?? [...DEFAULT_FACTORS, ...(eager ? (['eagerLayerOverheadS'] as const) : [])];
    if (factors.includes('eagerLayerOverheadS') && !eager) {
      throw new UserError('--fit eagerLayerOverheadS: the deployment does not run with enforceEager, so no measurement depends on it');
    }
    const run: MeasuredRunOptions = { ...(o.requests !== undefined ? { requests: o.requests } : {}), ...(o.warmup !== undefined ? { warmup: o.warmup } : {}) };
    const meta: { m: MeasuredPoint; metric: MeasuredMetric }[] = [];
    const points: FitPoint[] = timed.map((m, i) => ({
      point: measuredPoint(base, m, catalog, run, `m${i}`),
      targets: MEASURED_METRICS.flatMap((metric) => {
        const value = measuredValue(m, metric);
        if (value === undefined) return [];
        meta.push({ m, metric });
        const stat = statisticOf(m, metric);
        return [{ label: `${m.file}:${m.line}: row ${m.row} ${metric}`, measured: value, of: (r) => modeledValue(r, metric, stat) }];
      }),
    }));
    const fit: GpuFit = fitGpuFactors(points, { gpu, factors, catalog, ...(o.maxIterations !== undefined ? { maxIterations: o.maxIterations } : {}) });
    const measuredKinds = [...new Set(meta.map((x) => x.metric))].join(', ');
    const how =
      `nixlsim calibrate: bounded least squares (Levenberg-Marquardt on relative errors) of ${fit.fitted.join(', ')} to ${fit.targets.length} measured values ` +
      `(${measuredKinds}) of ${points.length} runs in ${inputs}, deployment of ${experimentShown}; rms error ${pct(fit.rmsError)}; range is ${gpu.id}'s; calibration parameter`;
    const sources = Object.fromEntries(fit.fitted.map((f) => [`efficiency.${f}`, how]));
    const header = `Written by \`nixlsim calibrate\` from ${inputs} on the deployment of ${experimentShown}.\nThe GPU '${gpu.id}' with efficiency factors fitted to measured runs; re-run calibrate rather than editing.`;
    writes.push({ file: gpuOut.file, text: gpuRecordText(gpu, gpuOut.id, fit.efficiency, fit.fitted, sources, header), flag: '--out', given: gpuFlag });
    const factorsOut = Object.fromEntries(
      FACTORS.map((f) => {
        const r = gpu.efficiency[f];
        return [f, { value: fit.fitted.includes(f) ? fit.efficiency[f] : r.value, base: r.value, min: r.min, max: r.max, fitted: fit.fitted.includes(f), atLimit: fit.atLimit.includes(f) }];
      }),
    ) as NonNullable<CalibrateResult['gpu']>['factors'];
    result.gpu = {
      id: gpuOut.id,
      base: gpu.id,
      file: gpuOut.file,
      factors: factorsOut,
      rows: fit.targets.map((t, i) => {
        const { m, metric } = meta[i]!;
        return { file: m.file, row: m.row, isl: m.isl, osl: m.osl, concurrency: m.concurrency, metric, measured: t.measured, modeled: t.modeled, error: t.error };
      }),
      rmsError: fit.rmsError,
      iterations: fit.iterations,
      simulations: fit.simulations,
    };
  }

  // Again: a file may have appeared while the fit ran.
  for (const w of writes) refuseOverwrite(w.file, o.force, w.flag);
  // The GPU and transport records go out together or not at all.
  result.files.push(...writeOutputs(writes.map((w) => ({ path: w.file, data: w.text, ...(w.given !== undefined ? { flag: w.given } : {}) }))));
  return result;
}

export interface NixlbenchCalibrateOptions {
  transport: string;
  /** The node both GPUs sat on (default: the first offering the transport): its NICs set the rails. */
  node?: string;
  /** Rails one GPU's transfers striped over; default the transport's rail rule for one GPU (railsFor). */
  rails?: number;
  /** nixlbench's --num_threads. */
  threads?: number;
  transportOut?: string;
  /** The user's catalog directory the record goes into without transportOut: see calibrationDir. */
  catalogDir?: string;
  force?: boolean;
  catalog?: Catalog;
}

export interface NixlbenchCalibrateResult {
  transport: string;
  file: string;
  perReadUs: number;
  perDescriptorUs: number;
  bandwidthGBps: number;
  bandwidthPerRailGBps: number;
  rails: number;
  rows: NixlbenchFit['rows'];
  rmsError: number;
}

/**
 * `nixlsim calibrate <nixlbench output>... --transport T`: the transport's per-transfer and per-descriptor costs and
 * its bandwidth fitted to nixlbench's rows, written as a catalog record beside the base transport.
 */
export function calibrateNixlbench(files: readonly string[], o: NixlbenchCalibrateOptions): NixlbenchCalibrateResult {
  const catalog = o.catalog ?? defaultCatalog();
  const transport = getTransport(catalog, o.transport);
  const node = o.node !== undefined ? getNode(catalog, o.node) : firstNodeOffering(catalog, transport.id);
  const rails = o.rails ?? railsFor(transport, node, 1);
  const out = outputPath(o.transportOut, 'transport', transport.id, o.catalogDir);
  const flag = o.transportOut !== undefined ? `--transport-out ${o.transportOut}` : undefined;
  refuseOverwrite(out.file, o.force, '--transport-out');
  checkOutputFile(out.file, flag);
  const samples = readNixlbench(files);
  const fit = fitNixlbench(samples, transport, rails, o.threads ?? 1);
  const perRail = fit.bandwidth / rails;
  const inputs = [...new Set(files.map((f) => shownPath(f)))].join(', ');
  const how = `nixlsim calibrate: least squares on the relative error of nixlbench's per-block latency over ${samples.length} rows in ${inputs} (${rails} rail${rails === 1 ? '' : 's'}, ${o.threads ?? 1} thread(s), latency held at ${transport.latencyS * 1e6} us); rms error ${pct(fit.rmsError)}`;
  const sources: Record<string, string> = {
    'bandwidthPerRailGBps.typical': `${how}; the fitted bandwidth over the rails`,
    perReadUs: `${how}; the fitted cost of a transfer`,
    perDescriptorUs: `${how}; the fitted cost of a descriptor`,
  };
  if (perRail < transport.bandwidthPerRail.min) sources['bandwidthPerRailGBps.min'] = `${how}; widened to hold the calibrated typical figure`;
  if (perRail > transport.bandwidthPerRail.max) sources['bandwidthPerRailGBps.max'] = `${how}; widened to hold the calibrated typical figure`;
  const header = `Written by \`nixlsim calibrate\` from nixlbench output ${inputs}.\nThe base transport '${transport.id}' with the measured transfer, descriptor and bandwidth figures; re-run calibrate rather than editing.`;
  const text = transportRecordText(transport, out.id, { latencyS: transport.latencyS, bandwidthPerRail: perRail, perReadS: fit.perReadS, perDescriptorS: fit.perDescriptorS }, sources, header);
  refuseOverwrite(out.file, o.force, '--transport-out');
  const [file] = writeOutputs([{ path: out.file, data: text, ...(flag !== undefined ? { flag } : {}) }]);
  return {
    transport: transport.id,
    file: file!,
    perReadUs: fit.perReadS * 1e6,
    perDescriptorUs: fit.perDescriptorS * 1e6,
    bandwidthGBps: fit.bandwidth / 1e9,
    bandwidthPerRailGBps: perRail / 1e9,
    rails,
    rows: fit.rows,
    rmsError: fit.rmsError,
  };
}
