/**
 * `npm run calibrate`: fits the H100 efficiency factors to the measurements the seeds give (facts.md section 6) and
 * prints the fit and the points it was not fitted to. The fitted values go into models/gpu/h100-sxm.yaml by hand,
 * with this script named as their source.
 *
 * Each factor is fitted to the one measurement that isolates it, by bisection (each modelled value is monotone in
 * its factor). No measurement separates decode bandwidth from the fixed per-step overhead, so decodeMemory keeps its
 * prior (0.75: below the ~0.9 of a device-to-device copy, facts.md section 2) and the overhead is fitted:
 * - prefillCompute: seed 002 aggregated TTFT min, 173 ms (Llama-3.1-8B, ISL 8000: one 8000-token prefill, unqueued);
 * - stepOverheadS: seed 002 disaggregated ITL mean, 16.9 ms (a pure decode batch of up to 10 at ~8k context);
 * - eagerLayerOverheadS: seed 000 ITL ~28-29 ms for DeepSeek-R1-Distill-Llama-70B TP8 decode with --enforce-eager at
 *   40k-120k tokens (fitted to 28.5 ms at 80k).
 * Not fitted (validation): seed 002 aggregated ITL 28.5 ms, output 204 / 248 tok/s, disaggregated TTFT min 210 ms.
 * These depend on how many workers the seed deployed, which it does not say.
 */
import { defaultCatalog } from '../src/catalog/index.js';
import { expandPoints, loadExperiment } from '../src/experiment/index.js';
import type { Point } from '../src/experiment/types.js';
import type { Efficiency } from '../src/physics/index.js';
import { simulatePoint } from '../src/serving/simulate.js';

const catalog = defaultCatalog();
const file = (name: string) => new URL(`../../experiments/seeds/${name}`, import.meta.url).pathname;
const breakeven = expandPoints(loadExperiment(file('breakeven.yaml'))).filter((p) => p.params['workload.isl.mean'] === 8000);
const agg = breakeven.find((p) => p.params['deployment.mode'] === 'aggregated')!;
const dis = breakeven.find((p) => p.params['deployment.mode'] === 'disaggregated')!;
// One request at a time: the unqueued TTFT.
const aggAlone = expandPoints(loadExperiment(file('breakeven.yaml'), { set: ['workload.concurrency=1', 'workload.requests=3', 'workload.warmup=0', 'workload.isl.mean=8000', 'deployment.mode=aggregated'] }))[0]!;
const eager = expandPoints(loadExperiment(file('long-context.yaml'), { set: ['workload.isl.mean=80000', 'workload.requests=3', 'workload.warmup=0'] })).find(
  (p) => p.params['deployment.transport'] === 'ib-rdma',
)!;

const run = (p: Point, eff: Efficiency) => simulatePoint(p, catalog, { efficiency: eff });

/** Bisection for f(x) = target on [lo, hi] with f monotone; returns the clamped end if the target is outside. */
function solve(f: (x: number) => number, target: number, lo: number, hi: number): number {
  const flo = f(lo);
  const fhi = f(hi);
  const rising = fhi > flo;
  if (rising ? target <= flo : target >= flo) return lo;
  if (rising ? target >= fhi : target <= fhi) return hi;
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (f(mid) < target === rising) lo = mid;
    else hi = mid;
  }
  return Math.round(((lo + hi) / 2) * 1e6) / 1e6;
}

const prior = catalog.gpus.get('h100-sxm')!.efficiency;
const eff: Efficiency = {
  prefillCompute: prior.prefillCompute.value,
  decodeMemory: prior.decodeMemory.value,
  stepOverheadS: prior.stepOverheadS.value,
  eagerLayerOverheadS: prior.eagerLayerOverheadS.value,
};
// Prefill and decode depend a little on each other (the first token's decode step, the mixed batches), so iterate.
for (let round = 0; round < 3; round++) {
  eff.prefillCompute = solve((x) => run(aggAlone, { ...eff, prefillCompute: x }).ttftMs.min, 173, prior.prefillCompute.min, prior.prefillCompute.max);
  eff.stepOverheadS = solve((x) => run(dis, { ...eff, stepOverheadS: x }).itlMs.mean, 16.9, prior.stepOverheadS.min, prior.stepOverheadS.max);
}
eff.eagerLayerOverheadS = solve((x) => run(eager, { ...eff, eagerLayerOverheadS: x }).itlMs.mean, 28.5, prior.eagerLayerOverheadS.min, prior.eagerLayerOverheadS.max);

console.log('fitted H100 efficiency factors:');
console.log(JSON.stringify(eff));
console.log('');
const rows: [string, number, number, boolean][] = [
  ['seed 002 aggregated TTFT min (ms), alone', 173, run(aggAlone, eff).ttftMs.min, true],
  ['seed 002 disaggregated ITL mean (ms)', 16.9, run(dis, eff).itlMs.mean, true],
  ['seed 000 TP8 eager decode ITL at 80k (ms)', 28.5, run(eager, eff).itlMs.mean, true],
  ['seed 002 aggregated TTFT min (ms), conc 10', 173, run(agg, eff).ttftMs.min, false],
  ['seed 002 disaggregated TTFT min (ms)', 210, run(dis, eff).ttftMs.min, false],
  ['seed 002 aggregated ITL mean (ms)', 28.5, run(agg, eff).itlMs.mean, false],
  ['seed 002 aggregated output tok/s', 204, run(agg, eff).throughput.outputTokensPerS, false],
  ['seed 002 disaggregated output tok/s', 248, run(dis, eff).throughput.outputTokensPerS, false],
];
console.log(`${'point'.padEnd(46)}${'measured'.padStart(10)}${'model'.padStart(10)}${'error'.padStart(9)}  use`);
for (const [name, measured, model, fitted] of rows) {
  const rel = ((model - measured) / measured) * 100;
  console.log(`${name.padEnd(46)}${measured.toFixed(1).padStart(10)}${model.toFixed(1).padStart(10)}${rel.toFixed(1).padStart(8)}%  ${fitted ? 'fit' : 'check'}`);
}
