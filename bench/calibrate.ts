/**
 * `npm run calibrate`: fits the H100 efficiency factors to the measurements the seeds give (facts.md section 6) and
 * prints the fit and the points it was not fitted to. The fitted values go into models/gpu/h100-sxm.yaml by hand,
 * with this script named as their source. The fitter is the one `nixlsim calibrate` uses (src/calibrate/fit-gpu.ts:
 * bounded Levenberg-Marquardt on relative errors); here each factor is fitted to the measurement that isolates it.
 *
 * No measurement separates decode bandwidth from the fixed per-step overhead, so decodeMemory keeps its prior (0.75:
 * below the ~0.9 of a device-to-device copy, facts.md section 2) and the overhead is fitted:
 * - prefillCompute: seed 002 aggregated TTFT min, 173 ms (Llama-3.1-8B, ISL 8000: one 8000-token prefill, unqueued);
 * - stepOverheadS: seed 002 disaggregated ITL mean, 16.9 ms (a pure decode batch of up to 10 at ~8k context);
 * - eagerLayerOverheadS: seed 000 ITL ~28-29 ms for DeepSeek-R1-Distill-Llama-70B TP8 decode with --enforce-eager at
 *   40k-120k tokens (fitted to 28.5 ms at 80k), with the other three held at their fitted values.
 * Not fitted (validation): seed 002 aggregated ITL 28.5 ms, output 204 / 248 tok/s, disaggregated TTFT min 210 ms.
 * These depend on how many workers the seed deployed, which it does not say.
 */
import { defaultCatalog } from '../src/catalog/index.js';
import { fitGpuFactors } from '../src/calibrate/fit-gpu.js';
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
const gpu = catalog.gpus.get('h100-sxm')!;

// Prefill and decode depend a little on each other (the first token's decode step, the mixed batches): one joint fit.
const main = fitGpuFactors(
  [
    { point: aggAlone, targets: [{ label: 'seed 002 aggregated TTFT min, alone', measured: 173, of: (r) => r.ttftMs.min }] },
    { point: dis, targets: [{ label: 'seed 002 disaggregated ITL mean', measured: 16.9, of: (r) => r.itlMs.mean }] },
  ],
  { gpu, factors: ['prefillCompute', 'stepOverheadS'], catalog },
);
const eagerFit = fitGpuFactors([{ point: eager, targets: [{ label: 'seed 000 TP8 eager decode ITL at 80k', measured: 28.5, of: (r) => r.itlMs.mean }] }], {
  gpu,
  factors: ['eagerLayerOverheadS'],
  catalog,
  start: main.efficiency,
});
const sig = (x: number) => Number(x.toPrecision(4));
const eff: Efficiency = {
  prefillCompute: sig(eagerFit.efficiency.prefillCompute),
  decodeMemory: sig(eagerFit.efficiency.decodeMemory),
  stepOverheadS: sig(eagerFit.efficiency.stepOverheadS),
  eagerLayerOverheadS: sig(eagerFit.efficiency.eagerLayerOverheadS),
};

console.log('fitted H100 efficiency factors:');
console.log(JSON.stringify(eff));
console.log('');
// Each point simulated once: a run depends on the point and the factors only.
const aggR = run(agg, eff);
const disR = run(dis, eff);
const rows: [string, number, number, boolean][] = [
  ['seed 002 aggregated TTFT min (ms), alone', 173, run(aggAlone, eff).ttftMs.min, true],
  ['seed 002 disaggregated ITL mean (ms)', 16.9, disR.itlMs.mean, true],
  ['seed 000 TP8 eager decode ITL at 80k (ms)', 28.5, run(eager, eff).itlMs.mean, true],
  ['seed 002 aggregated TTFT min (ms), conc 10', 173, aggR.ttftMs.min, false],
  ['seed 002 disaggregated TTFT min (ms)', 210, disR.ttftMs.min, false],
  ['seed 002 aggregated ITL mean (ms)', 28.5, aggR.itlMs.mean, false],
  ['seed 002 aggregated output tok/s', 204, aggR.throughput.outputTokensPerS, false],
  ['seed 002 disaggregated output tok/s', 248, disR.throughput.outputTokensPerS, false],
];
console.log(`${'point'.padEnd(46)}${'measured'.padStart(10)}${'model'.padStart(10)}${'error'.padStart(9)}  use`);
for (const [name, measured, model, fitted] of rows) {
  const rel = ((model - measured) / measured) * 100;
  console.log(`${name.padEnd(46)}${measured.toFixed(1).padStart(10)}${model.toFixed(1).padStart(10)}${rel.toFixed(1).padStart(8)}%  ${fitted ? 'fit' : 'check'}`);
}
