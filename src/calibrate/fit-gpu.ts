import type { Catalog, GpuSpec } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import type { Point, PointResult } from '../spec/experiment.js';
import { defaultEfficiency, type Efficiency } from '../physics/index.js';
import { simulatePoint } from '../serving/simulate.js';
import { identifiability, jacobian, levenbergMarquardt, scale, type Param } from './least-squares.js';

/**
 * Fits a GPU's efficiency factors to measured values by least squares on relative errors: each target's residual is
 * (modeled - measured) / measured, the model being the full simulation of the target's point with the trial factors.
 * The factors move only within the catalog's [min, max]. Shared by `nixlsim calibrate` and `npm run calibrate`.
 */
export type FactorName = keyof Efficiency;
export const FACTORS: readonly FactorName[] = [
  'prefillCompute',
  'decodeMemory',
  'stepOverheadS',
  'eagerLayerOverheadS',
  'piecewiseLayerOverheadS',
  'allReduceLatencyS',
  'connectorStepOverheadS',
];
/** The factors `calibrate` fits when not told which: those every deployment's measurements depend on. */
export const DEFAULT_FACTORS: readonly FactorName[] = ['prefillCompute', 'decodeMemory', 'stepOverheadS'];

/** What kind of measurement pins each factor down, for the refusal message. */
const FACTOR_HINT: Record<FactorName, string> = {
  prefillCompute: 'prefillCompute needs TTFT or latency measured at prompt lengths where prefill takes a visible share',
  decodeMemory: 'decodeMemory and stepOverheadS need ITL measured at several context lengths or concurrencies, so that decode reads different amounts of KV',
  stepOverheadS: 'decodeMemory and stepOverheadS need ITL measured at several context lengths or concurrencies, so that decode reads different amounts of KV',
  eagerLayerOverheadS: 'eagerLayerOverheadS needs ITL of a deployment that runs with enforceEager',
  piecewiseLayerOverheadS: 'piecewiseLayerOverheadS needs ITL or TTFT of steps that mix prefill and decode, with CUDA graphs on',
  allReduceLatencyS: 'allReduceLatencyS needs ITL of a deployment with TP > 1, at several TP sizes',
  connectorStepOverheadS: 'connectorStepOverheadS needs ITL of a disaggregated deployment',
};

export interface FitTarget {
  /** How tables and messages name it (`m.csv:3 ttft`). */
  label: string;
  measured: number;
  /** The modeled value from the point's result; null when the model has none (no request completed). */
  of: (r: PointResult) => number | null;
}

/** A point to simulate and the measured values it is compared with. */
export interface FitPoint {
  point: Point;
  targets: FitTarget[];
}

export interface GpuFitOptions {
  gpu: GpuSpec;
  /** The factors to fit; the others stay at `start`'s values. */
  factors: readonly FactorName[];
  catalog: Catalog;
  /** Where the fit starts and the values of the factors not fitted; default the GPU record's. */
  start?: Efficiency;
  maxIterations?: number;
}

export interface FittedTarget {
  label: string;
  measured: number;
  modeled: number;
  /** (modeled - measured) / measured. */
  error: number;
}

export interface GpuFit {
  efficiency: Efficiency;
  fitted: FactorName[];
  /** Fitted factors that ended at a limit of their catalog range (the data would take them further). */
  atLimit: FactorName[];
  targets: FittedTarget[];
  /** Root mean square of the relative errors. */
  rmsError: number;
  iterations: number;
  simulations: number;
}

export function fitGpuFactors(points: readonly FitPoint[], o: GpuFitOptions): GpuFit {
  const start = o.start ?? defaultEfficiency(o.gpu);
  const params: Param[] = o.factors.map((f) => ({ name: f, lo: o.gpu.efficiency[f].min, hi: o.gpu.efficiency[f].max, start: start[f] }));
  const effAt = (x: readonly number[]): Efficiency => {
    const e = { ...start };
    o.factors.forEach((f, j) => (e[f] = x[j]!));
    return e;
  };
  let simulations = 0;
  // The identifiability check and the solver's first step both start at x0, and the reported values are those of
  // the solver's last point: each trial point is simulated once (the simulation is deterministic).
  const seen = new Map<string, number[]>();
  const modeled = (x: readonly number[]): number[] => {
    const key = x.join(',');
    let values = seen.get(key);
    if (values === undefined) {
      values = simulateAt(x);
      seen.set(key, values);
    }
    return values;
  };
  const simulateAt = (x: readonly number[]): number[] => {
    const eff = effAt(x);
    return points.flatMap((p) => {
      simulations++;
      const r = simulatePoint(p.point, o.catalog, { efficiency: eff });
      return p.targets.map((t) => {
        const v = t.of(r);
        if (v === null || !Number.isFinite(v)) throw new UserError(`${t.label}: the model completes no request of this run, so it has nothing to fit`);
        return v;
      });
    });
  };
  const measured = points.flatMap((p) => p.targets.map((t) => t.measured));
  const residuals = (x: readonly number[]): number[] => modeled(x).map((v, i) => (v - measured[i]!) / measured[i]!);
  const problem = { params, residuals };

  const x0 = params.map((q) => q.start);
  const why = identifiability(jacobian(problem, scale(params, x0), residuals(x0)), params.map((q) => q.name));
  if (why !== undefined) {
    const named = o.factors.filter((f) => why.includes(f));
    const hints = named.map((f) => FACTOR_HINT[f]).filter((h, i, a) => a.indexOf(h) === i);
    throw new UserError(`cannot fit the GPU factors: ${why}; ${hints.join('; ')} (or fit fewer: --fit)`);
  }

  const fit = levenbergMarquardt(problem, o.maxIterations !== undefined ? { maxIterations: o.maxIterations } : {});
  const values = modeled(fit.x);
  const targets = points.flatMap((p) => p.targets).map((t, i) => ({ label: t.label, measured: t.measured, modeled: values[i]!, error: (values[i]! - t.measured) / t.measured }));
  const rmsError = Math.sqrt(targets.reduce((s, t) => s + t.error * t.error, 0) / targets.length);
  const atLimit = o.factors.filter((_, j) => {
    const u = scale([params[j]!], [fit.x[j]!])[0]!;
    return u <= 1e-6 || u >= 1 - 1e-6;
  });
  return { efficiency: effAt(fit.x), fitted: [...o.factors], atLimit, targets, rmsError, iterations: fit.iterations, simulations };
}
