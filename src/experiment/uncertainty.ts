/**
 * The catalog figures a result rests on that are known only within a range, and drawing values for them: the KV
 * transport's per-rail bandwidth ({min, typical, max} in models/transport/) and its cost per descriptor (where the
 * transport gives perDescriptorUsRange), and the GPU's efficiency factors ({value, min, max} in models/gpu/). Monte Carlo bands (`run --uncertainty n`) draw every one at once; sensitivity runs move
 * one at a time to its ends. Values are in SI units (bytes/s, fractions, seconds); `display` converts to the YAML's.
 */
import seedrandom from 'seedrandom';
import { getGpu, getTransport } from '../catalog/index.js';
import type { Catalog } from '../spec/catalog.js';
import { InvariantError, UserError } from '../errors.js';
import { defaultEfficiency, perRailBandwidth, type Efficiency } from '../physics/index.js';
import type { SimulateOverrides } from '../serving/simulate.js';
import { pointBands } from '../spec/bands.js';
import type { Job, PointOutcome } from './jobs.js';
import type { Point } from '../spec/experiment.js';

/** The parameters, by the name of their field in the catalog's YAML (the order draws and tables use). */
export const PARAMETER_NAMES = [
  'transport.bandwidthPerRailGBps',
  'transport.perDescriptorUs',
  'gpu.efficiency.prefillCompute',
  'gpu.efficiency.decodeMemory',
  'gpu.efficiency.stepOverheadS',
  'gpu.efficiency.eagerLayerOverheadS',
  'gpu.efficiency.piecewiseLayerOverheadS',
  'gpu.efficiency.allReduceLatencyS',
  'gpu.efficiency.connectorStepOverheadS',
] as const;
export type ParameterName = (typeof PARAMETER_NAMES)[number];

const EFFICIENCY_KEYS: Record<string, keyof Efficiency> = {
  'gpu.efficiency.prefillCompute': 'prefillCompute',
  'gpu.efficiency.decodeMemory': 'decodeMemory',
  'gpu.efficiency.stepOverheadS': 'stepOverheadS',
  'gpu.efficiency.eagerLayerOverheadS': 'eagerLayerOverheadS',
  'gpu.efficiency.piecewiseLayerOverheadS': 'piecewiseLayerOverheadS',
  'gpu.efficiency.allReduceLatencyS': 'allReduceLatencyS',
  'gpu.efficiency.connectorStepOverheadS': 'connectorStepOverheadS',
};

/** One uncertain figure of a point: its range and the value the nominal run uses, SI units. */
export interface UncertainParameter {
  name: ParameterName;
  /** What a table calls it: `bandwidth per rail (tcp)`, `prefill compute efficiency (h100-sxm)`. */
  label: string;
  /** The unit `display` gives (the catalog YAML's): 'GB/s', 'us', 's' or '' for a fraction. */
  unit: string;
  min: number;
  nominal: number;
  max: number;
}

/** A parameter's SI value in the catalog YAML's unit (bandwidth in GB/s, cost per descriptor in us, the rest as they are). */
export function display(p: Pick<UncertainParameter, 'name'>, si: number): number {
  const v = p.name === 'transport.bandwidthPerRailGBps' ? si / 1e9 : p.name === 'transport.perDescriptorUs' ? si * 1e6 : si;
  return Number(v.toPrecision(12));
}

/**
 * The uncertain parameters that can move a point's results. The transport's bandwidth only with disaggregated
 * serving (aggregated moves no KV); the per-layer eager overhead only under --enforce-eager (it applies nowhere
 * else). The nominal bandwidth is the deployment's pick (typical unless `bandwidth:` says min or max).
 */
export function uncertainParameters(point: Point, catalog: Catalog): UncertainParameter[] {
  const d = point.experiment.deployment;
  const gpu = getGpu(catalog, d.gpu);
  const out: UncertainParameter[] = [];
  if (d.mode === 'disaggregated') {
    const t = getTransport(catalog, d.transport);
    const r = t.bandwidthPerRail;
    out.push({ name: 'transport.bandwidthPerRailGBps', label: `bandwidth per rail (${t.id})`, unit: 'GB/s', min: r.min, nominal: perRailBandwidth(t, d.bandwidth), max: r.max });
    const pd = t.perDescriptorRange;
    if (pd !== undefined) out.push({ name: 'transport.perDescriptorUs', label: `cost per descriptor (${t.id})`, unit: 'us', min: pd.min, nominal: t.perDescriptorS, max: pd.max });
  }
  const e = gpu.efficiency;
  const factor = (name: ParameterName, label: string, unit: string, f: { value: number; min: number; max: number }): UncertainParameter => ({
    name,
    label: `${label} (${gpu.id})`,
    unit,
    min: f.min,
    nominal: f.value,
    max: f.max,
  });
  out.push(factor('gpu.efficiency.prefillCompute', 'prefill compute efficiency', '', e.prefillCompute));
  out.push(factor('gpu.efficiency.decodeMemory', 'decode memory efficiency', '', e.decodeMemory));
  out.push(factor('gpu.efficiency.stepOverheadS', 'host time per step', 's', e.stepOverheadS));
  if (d.engine.enforceEager === true) out.push(factor('gpu.efficiency.eagerLayerOverheadS', 'eager overhead per layer', 's', e.eagerLayerOverheadS));
  else out.push(factor('gpu.efficiency.piecewiseLayerOverheadS', 'piecewise-graph launch per layer', 's', e.piecewiseLayerOverheadS));
  const tp = d.mode === 'disaggregated' ? Math.max(d.prefill.tp, d.decode.tp) : d.aggregated.tp;
  if (tp > 1) out.push(factor('gpu.efficiency.allReduceLatencyS', 'all-reduce latency', 's', e.allReduceLatencyS));
  if (d.mode === 'disaggregated') out.push(factor('gpu.efficiency.connectorStepOverheadS', 'KV connector host time per step', 's', e.connectorStepOverheadS));
  return out;
}

/**
 * What a simulation needs to run with some parameters at other values (SI units), the rest at their nominal: the
 * efficiency factors whole (the GPU's values with the given ones replaced), the bandwidth and the cost per descriptor
 * when given.
 */
export function overridesFor(point: Point, catalog: Catalog, values: ReadonlyMap<ParameterName, number>): SimulateOverrides {
  const efficiency: Efficiency = { ...defaultEfficiency(getGpu(catalog, point.experiment.deployment.gpu)) };
  let bandwidthPerRail: number | undefined;
  let perDescriptorS: number | undefined;
  for (const [name, v] of values) {
    if (!(Number.isFinite(v) && v > 0)) throw new InvariantError(`${name} drawn as ${v}: every catalog range is positive`);
    if (name === 'transport.bandwidthPerRailGBps') bandwidthPerRail = v;
    else if (name === 'transport.perDescriptorUs') perDescriptorS = v;
    else efficiency[EFFICIENCY_KEYS[name]!] = v;
  }
  return { efficiency, ...(bandwidthPerRail !== undefined ? { bandwidthPerRail } : {}), ...(perDescriptorS !== undefined ? { perDescriptorS } : {}) };
}

// ---------------------------------------------------------------------------------------------------------------------
// Monte Carlo

/**
 * The inverse CDF of the triangular distribution on [a, b] with mode c, at u in [0, 1]: the nominal is the most
 * likely value and the catalog's ends are reached but never passed. A degenerate range (a = b) gives a.
 */
export function triangular(u: number, a: number, c: number, b: number): number {
  if (!(a <= c && c <= b)) throw new InvariantError(`triangular needs min <= mode <= max, got ${a}, ${c}, ${b}`);
  if (b === a) return a;
  const fc = (c - a) / (b - a);
  const x = u < fc ? a + Math.sqrt(u * (b - a) * (c - a)) : b - Math.sqrt((1 - u) * (b - a) * (b - c));
  return Math.min(b, Math.max(a, x));
}

/**
 * The uniform number behind sample j's value of one parameter: its own Alea stream, seeded with the experiment seed,
 * the sample and the parameter's name, so that adding a parameter never moves another's draws, and sample j is the
 * same "world" at every point (common random numbers: the bands of two points compare like with like).
 */
export function sampleUniform(seed: number, sample: number, name: ParameterName): number {
  return seedrandom.alea(`${seed}:uncertainty:${sample}:${name}`)();
}

/** Sample j's values of a point's parameters, SI units. */
export function drawSample(point: Point, params: readonly UncertainParameter[], sample: number): Map<ParameterName, number> {
  const values = new Map<ParameterName, number>();
  for (const p of params) values.set(p.name, triangular(sampleUniform(point.experiment.seed, sample, p.name), p.min, p.nominal, p.max));
  return values;
}

/** The simulation options of every Monte Carlo sample of a point, sample 0 first. */
export function sampleOverrides(point: Point, catalog: Catalog, samples: number): SimulateOverrides[] {
  const params = uncertainParameters(point, catalog);
  return Array.from({ length: samples }, (_, j) => overridesFor(point, catalog, drawSample(point, params, j)));
}

// ---------------------------------------------------------------------------------------------------------------------
// A run with bands: the jobs, and the bands from their outcomes

/** Whole numbers from 2 (one sample has no spread) to this many samples a point. */
export const MAX_SAMPLES = 100_000;

/** `--uncertainty n` as the API takes it: a UserError naming the flag unless 2 <= n <= MAX_SAMPLES, whole. */
export function checkSamples(n: number): number {
  if (!(Number.isInteger(n) && n >= 2 && n <= MAX_SAMPLES)) {
    throw new UserError(`--uncertainty must be a whole number of samples from 2 to ${MAX_SAMPLES}, got '${String(n)}'`);
  }
  return n;
}

/**
 * The simulations of a run: each point's nominal run (with its event log), then its `samples` Monte Carlo samples,
 * point after point, so that job k * (samples + 1) is point k's nominal run.
 */
export function uncertaintyJobs(points: readonly Point[], catalog: Catalog, samples: number): Job[] {
  const jobs: Job[] = [];
  for (const point of points) {
    jobs.push({ point });
    for (const overrides of sampleOverrides(point, catalog, samples)) jobs.push({ point, overrides });
  }
  return jobs;
}

/** One outcome per point from the jobs' outcomes: the nominal run's, with its samples' bands added when there were any. */
export function withBands(points: readonly Point[], catalog: Catalog, samples: number, outcomes: readonly PointOutcome[]): PointOutcome[] {
  const stride = samples + 1;
  if (outcomes.length !== points.length * stride) {
    throw new InvariantError(`${outcomes.length} outcomes for ${points.length} points of ${samples} samples each`);
  }
  return points.map((p, k) => {
    const nominal = outcomes[k * stride]!;
    if (samples === 0) return nominal;
    const runs = outcomes.slice(k * stride + 1, (k + 1) * stride).map((o) => o.result);
    const varied = uncertainParameters(p, catalog).map((u) => u.name);
    return { ...nominal, result: { ...nominal.result, bands: pointBands(runs, varied) } };
  });
}
