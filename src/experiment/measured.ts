/**
 * An experiment file read as a deployment to hold measurements against (audit, calibrate): its deployment, seed,
 * faults and horizon, with the workload replaced, point by point, by a measured run's closed loop.
 */
import { getLlm } from '../catalog/load.js';
import type { Catalog } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import type { MeasuredMetric, MeasuredPoint, Statistic } from '../measure/types.js';
import { loadExperiment, type LoadOptions } from './load.js';
import { shownPath } from './yaml-errors.js';
import type { Deployment, Experiment, Point, PointResult, Stats } from '../spec/experiment.js';

/**
 * The experiment's one deployment. A sweep over workload paths is fine (the measurements replace the workload); a
 * sweep over anything else would give several deployments, and which one the measurements ran on is the user's to
 * say, with --set.
 */
export function loadDeployment(file: string, opts: LoadOptions = {}): Experiment {
  const loaded = loadExperiment(file, opts);
  const other = Object.keys(loaded.sweep).filter((k) => !k.startsWith('workload.') && k !== 'workload');
  if (other.length > 0) {
    const k = other[0]!;
    const values = loaded.sweep[k]!;
    const first = typeof values[0] === 'string' ? values[0] : JSON.stringify(values[0]);
    throw new UserError(
      `the experiment sweeps ${k} over ${values.length} values, so it names ${values.length} deployments; pin the one the measurements ran on with --set ${k}=${first}`,
      shownPath(loaded.file),
    );
  }
  return loaded.experiment;
}

export interface MeasuredRunOptions {
  /** Requests measured per point; default max(20, 3 x concurrency): enough for the closed loop to settle. */
  requests?: number;
  /** Warm-up requests, not measured; default the concurrency (the first wave, which starts all at once). */
  warmup?: number;
}

/** Requests measured for a run at this concurrency. */
export function defaultRequests(concurrency: number): number {
  return Math.max(20, 3 * concurrency);
}

/**
 * The point that models a measured run: the deployment with a closed-loop workload of the run's concurrency and
 * constant lengths (isl, osl), as genai-perf and vLLM bench send synthetic prompts.
 */
export function measuredPoint(base: Experiment, m: MeasuredPoint, catalog: Catalog, opts: MeasuredRunOptions = {}, id = `row-${m.row}`): Point {
  const llm = getLlm(catalog, base.deployment.model);
  if (m.isl + m.osl > llm.maxContext) {
    throw new UserError(`row ${m.row}: isl + osl = ${m.isl} + ${m.osl} = ${m.isl + m.osl} tokens exceeds the ${llm.maxContext}-token context of '${llm.id}'`, `${m.file}:${m.line}`);
  }
  const experiment = structuredClone(base);
  // A measured run timed a deployment that was serving already: its decode workers had registered the prefill workers
  // (deployment.prewarmed), unless the deployment file says otherwise.
  experiment.deployment.prewarmed ??= true;
  experiment.workload = {
    kind: 'closed-loop',
    concurrency: m.concurrency,
    requests: opts.requests ?? defaultRequests(m.concurrency),
    warmup: opts.warmup ?? m.concurrency,
    rate: 1,
    isl: { mean: m.isl, stddev: 0 },
    osl: { mean: m.osl, stddev: 0 },
  };
  return { id, params: { 'workload.isl.mean': m.isl, 'workload.osl.mean': m.osl, 'workload.concurrency': m.concurrency }, experiment };
}

const STAT_FIELD: Record<Statistic, keyof Stats> = { mean: 'mean', p50: 'p50', p90: 'p90', p95: 'p95', p99: 'p99' };

/** The model's value of a metric, in the statistic the measurement used; null when no request completed. */
export function modeledValue(r: PointResult, metric: MeasuredMetric, stat: Statistic = 'mean'): number | null {
  if (r.requests.completed === 0) return null;
  const f = STAT_FIELD[stat];
  switch (metric) {
    case 'ttft':
      return r.ttftMs[f];
    case 'itl':
      return r.itlMs[f];
    case 'latency':
      return r.e2eMs[f];
    case 'throughput':
      return r.throughput.outputTokensPerS;
  }
}


/** One line for headers: `llama-3.1-8b-instruct on h100-sxm (p5.48xlarge), disaggregated 1 x TP1 prefill + ...`. */
export function describeDeployment(d: Deployment): string {
  const g = (w: { workers: number; tp: number }) => `${w.workers} x TP${w.tp}`;
  return d.mode === 'aggregated'
    ? `${d.model} on ${d.gpu} (${d.node}), aggregated ${g(d.aggregated)}`
    : `${d.model} on ${d.gpu} (${d.node}), disaggregated ${g(d.prefill)} prefill + ${g(d.decode)} decode over ${d.transport}`;
}
