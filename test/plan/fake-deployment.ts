import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Point, PointResult, Stats } from '../../src/spec/experiment.js';
import type { PlanOptions, SimulateBatch } from '../../src/plan/planner.js';
import { fakeResult, fixture } from '../experiment/helpers.js';

/** The planner tests' workload: short prompts (a closed-loop file the planner turns into Poisson probes). */
export const WORKLOAD = fixture('../plan/short-prompts.yaml');
export const tmp = (): string => mkdtempSync(join(tmpdir(), 'nixlsim-plan-'));

const flat = (ms: number): Stats => ({ mean: ms, p50: ms, p90: ms, p95: ms, p99: ms, min: ms, max: ms });

/**
 * The fake deployment: a capacity in req/s by configuration, and TTFT p95 = 100 ms / (1 - rate / capacity), the M/M/1
 * shape. With the SLO TTFT p95 <= 500 ms a probe passes iff 1 - rate / capacity >= 0.2, i.e. rate <= 0.8 x capacity.
 *   aggregated: 10 req/s per worker (4 x TP1: 40, 2 x TP2: 20, 1 x TP4: 10);
 *   disaggregated: 30 req/s x min(prefill workers, decode workers) (2P + 2D: 60; 1P + 3D, 3P + 1D, 1P TP2 + 1D TP2: 30).
 */
export function capacity(p: Point): number {
  const d = p.experiment.deployment;
  return d.mode === 'aggregated' ? 10 * d.aggregated.workers : 30 * Math.min(d.prefill.workers, d.decode.workers);
}

export function fakeProbe(p: Point): PointResult {
  const rate = p.experiment.workload.rate as number;
  const cap = capacity(p);
  const ttft = rate < cap ? 100 / (1 - rate / cap) : 1e9;
  return { ...fakeResult(p), ttftMs: flat(ttft), itlMs: flat(20) };
}

/** The fake simulator, keeping each batch it was given. */
export function counting(): SimulateBatch & { calls: Point[][] } {
  const calls: Point[][] = [];
  const f: SimulateBatch = async (points) => {
    calls.push([...points]);
    return points.map(fakeProbe);
  };
  return Object.assign(f, { calls });
}

/** Plan options for the fake deployment: the 8B model on DGX H100 over InfiniBand, 4 GPUs, TTFT p95 <= 500 ms. */
export const options = (out: string, more: Partial<PlanOptions> = {}): PlanOptions => ({
  model: 'llama-3.1-8b-instruct',
  node: 'dgx-h100',
  transport: 'ib-rdma',
  gpus: 4,
  workload: WORKLOAD,
  slo: 'ttft_p95_ms<=500',
  connector: 'equal-tp',
  requests: 20,
  warmup: 2,
  out,
  ...more,
});
