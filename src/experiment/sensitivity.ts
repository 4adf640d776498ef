/**
 * One-at-a-time sensitivity of a point: each uncertain catalog figure (uncertainty.ts) set to the min and then to the
 * max of its range, every other at its nominal, and the parameters ranked by how far that moves a metric (the swing
 * |metric at max - metric at min|). What a tornado chart draws.
 */
import type { Catalog } from '../spec/catalog.js';
import { InvariantError, UserError } from '../errors.js';
import { round } from '../spec/bands.js';
import type { Job, PointOutcome } from './jobs.js';
import type { Point, PointResult } from '../spec/experiment.js';
import { display, overridesFor, uncertainParameters, type ParameterName, type UncertainParameter } from './uncertainty.js';

/** The metrics sensitivity can rank by (the `--metric` values), with how to read them off a point result. */
export const SENSITIVITY_METRICS = {
  ttft_mean_ms: { label: 'TTFT mean', unit: 'ms', of: (r: PointResult) => r.ttftMs.mean },
  ttft_p50_ms: { label: 'TTFT p50', unit: 'ms', of: (r: PointResult) => r.ttftMs.p50 },
  ttft_p95_ms: { label: 'TTFT p95', unit: 'ms', of: (r: PointResult) => r.ttftMs.p95 },
  ttft_p99_ms: { label: 'TTFT p99', unit: 'ms', of: (r: PointResult) => r.ttftMs.p99 },
  itl_mean_ms: { label: 'ITL mean', unit: 'ms', of: (r: PointResult) => r.itlMs.mean },
  itl_p50_ms: { label: 'ITL p50', unit: 'ms', of: (r: PointResult) => r.itlMs.p50 },
  e2e_p50_ms: { label: 'e2e latency p50', unit: 'ms', of: (r: PointResult) => r.e2eMs.p50 },
  output_tokens_per_s: { label: 'output throughput', unit: 'tok/s', of: (r: PointResult) => r.throughput.outputTokensPerS },
  kv_transfer_mean_ms: { label: 'KV transfer mean', unit: 'ms', of: (r: PointResult) => r.kvTransfer.ms.mean },
} as const;
export type SensitivityMetric = keyof typeof SENSITIVITY_METRICS;
export const SENSITIVITY_METRIC_NAMES = Object.keys(SENSITIVITY_METRICS) as SensitivityMetric[];
export const DEFAULT_SENSITIVITY_METRIC: SensitivityMetric = 'ttft_p95_ms';

/** A parameter at one end of its range (value in the catalog YAML's unit) and what the metric was then. */
export interface SensitivityEnd {
  value: number;
  metric: number;
}

export interface SensitivityParameter {
  /** The catalog field (uncertainty.ts PARAMETER_NAMES). */
  name: ParameterName;
  label: string;
  /** Unit of the values: 'GB/s', 's', or '' for a fraction. */
  unit: string;
  nominal: number;
  low: SensitivityEnd;
  high: SensitivityEnd;
  /** |high.metric - low.metric|, in the metric's unit. */
  swing: number;
}

/** The JSON `sensitivity --json` prints and writes (a contract): the ranked parameters, largest swing first. */
export interface SensitivityResult {
  metric: SensitivityMetric;
  /** What the metric is called in tables and charts: 'TTFT p95'. */
  label: string;
  /** The metric's unit ('ms' or 'tok/s'). */
  unit: string;
  /** The metric with every parameter at its nominal. */
  nominal: number;
  experiment: string;
  seed: number;
  point: { id: string; params: Record<string, unknown> };
  parameters: SensitivityParameter[];
}

/** The point to study: the one with this id, or the sweep's first. */
export function pickPoint(points: readonly Point[], id: string | undefined): Point {
  if (points.length === 0) throw new InvariantError('an experiment expands to at least one point');
  if (id === undefined) return points[0]!;
  const p = points.find((q) => q.id === id);
  if (!p) {
    const ids = points.map((q) => q.id);
    const shown = ids.length <= 8 ? ids.join(', ') : `${ids.slice(0, 4).join(', ')}, ... ${ids[ids.length - 1]}`;
    throw new UserError(`--point: no point '${id}' in this sweep (points: ${shown})`);
  }
  return p;
}

/** The simulations: the nominal run, then each parameter at its min and at its max (the others nominal). */
export function sensitivityJobs(point: Point, catalog: Catalog): { params: UncertainParameter[]; jobs: Job[] } {
  const params = uncertainParameters(point, catalog);
  // The nominal run also goes with explicit (nominal) figures: it then needs no event log either.
  const jobs: Job[] = [{ point, overrides: overridesFor(point, catalog, new Map()) }];
  for (const p of params) {
    jobs.push({ point, overrides: overridesFor(point, catalog, new Map([[p.name, p.min]])) });
    jobs.push({ point, overrides: overridesFor(point, catalog, new Map([[p.name, p.max]])) });
  }
  return { params, jobs };
}

/** Ranks the parameters from the jobs' outcomes (in sensitivityJobs order): largest swing first, ties in catalog order. */
export function rankSensitivity(
  point: Point,
  params: readonly UncertainParameter[],
  outcomes: readonly PointOutcome[],
  metric: SensitivityMetric,
): SensitivityResult {
  if (outcomes.length !== 1 + 2 * params.length) throw new InvariantError(`${outcomes.length} outcomes for ${params.length} parameters`);
  const m = SENSITIVITY_METRICS[metric];
  const value = (i: number): number => {
    const v = m.of(outcomes[i]!.result);
    // No samples (no request completed, no KV transfer): nothing to rank by; say so rather than rank a 0.
    if (v === null) {
      const at = i === 0 ? 'at its nominal figures' : `with ${params[Math.floor((i - 1) / 2)]!.name} at its ${i % 2 === 1 ? 'min' : 'max'}`;
      throw new UserError(`point ${point.id} has no ${m.label} ${at} (no samples): choose another --metric or point`);
    }
    return v;
  };
  const ranked = params
    .map((p, k) => {
      const low = { value: display(p, p.min), metric: value(1 + 2 * k) };
      const high = { value: display(p, p.max), metric: value(2 + 2 * k) };
      return { order: k, entry: { name: p.name, label: p.label, unit: p.unit, nominal: display(p, p.nominal), low, high, swing: round(Math.abs(high.metric - low.metric)) } };
    })
    .sort((a, b) => b.entry.swing - a.entry.swing || a.order - b.order)
    .map((x) => x.entry);
  return {
    metric,
    label: m.label,
    unit: m.unit,
    nominal: value(0),
    experiment: point.experiment.name,
    seed: point.experiment.seed,
    point: { id: point.id, params: point.params },
    parameters: ranked,
  };
}
