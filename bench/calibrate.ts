/**
 * `npm run calibrate`: fits the GPU factors of the step-time model (src/physics/compute.ts) to published measurements
 * and prints the residuals of every measurement it used and of those it did not. The fitted values go into
 * models/gpu/*.yaml by hand, with this script named as their source. The fitter is the one `nixlsim calibrate` uses
 * (src/calibrate/fit-gpu.ts: bounded Levenberg-Marquardt on relative errors).
 *
 * What is held, not fitted: decodeMemory, at ~0.9 of HBM bandwidth (facts.md section 2 measured a device-to-device copy
 * at ~3.0 of 3.35 TB/s on H100 and ~4.3 of 4.8 on H200; A100 is given the same fraction), and piecewiseLayerOverheadS at
 * its prior (no measurement isolates it: its launches hide under the GPU work of every mixed step measured here).
 *
 * What is fitted, each to the measurements that move it (models/measurements/ names their sources):
 * - H100, jointly: prefillCompute (seed 002 aggregated TTFT min, 173 ms: an 8000-token prefill of the first burst),
 *   stepOverheadS and allReduceLatencyS (vLLM perf-CI latency tests: Llama-3.1-8B TP1 and the 70B shape at TP4, one
 *   batch of 8 x 32 in / 128 out), eagerLayerOverheadS (seed 000: 70B TP8 eager decode ITL ~28.5 ms at 80k tokens),
 *   connectorStepOverheadS (seed 002 disaggregated ITL mean 16.9 ms);
 * - H200 and A100: stepOverheadS and allReduceLatencyS to their perf-CI pair; the others as H100's (same vLLM, same
 *   kind of host; A100's prefillCompute likewise, no A100 prefill measurement being at hand).
 * Everything else in models/measurements/ is validation: `nixlsim fidelity` shows it.
 */
import { defaultCatalog } from '../src/catalog/index.js';
import { fitGpuFactors, type FactorName, type GpuFit } from '../src/calibrate/fit-gpu.js';
import { expandPoints, loadExperiment } from '../src/experiment/index.js';
import type { Point, PointResult } from '../src/spec/experiment.js';
import type { Efficiency } from '../src/physics/index.js';

const catalog = defaultCatalog();
const file = (name: string) => new URL(`../../experiments/fidelity/${name}`, import.meta.url).pathname;
const points = (name: string, set: string[] = []) => expandPoints(loadExperiment(file(name), { set }));
const pick = (ps: Point[], params: Record<string, unknown>): Point => {
  const p = ps.find((q) => Object.entries(params).every(([k, v]) => q.params[k] === v));
  if (!p) throw new Error(`no point with ${JSON.stringify(params)}`);
  return p;
};

const ci = points('vllm-ci-latency.yaml');
const ciPoint = (node: string, model: string) => pick(ci, { 'deployment.node': node, 'deployment.model': model });
const seed002 = points('seed-002-breakeven.yaml');
const agg = pick(seed002, { 'deployment.mode': 'aggregated' });
const dis = pick(seed002, { 'deployment.mode': 'disaggregated' });
const eager = pick(points('seed-000-long-context-itl.yaml'), { 'workload.isl.mean': 80000 });

const e2e = (r: PointResult) => r.e2eMs.mean;
const itl = (r: PointResult) => r.itlMs.mean;
const L8 = 'llama-3.1-8b-instruct';
const L70 = 'deepseek-r1-distill-llama-70b';

const sig = (x: number) => Number(x.toPrecision(3));
const rounded = (e: Efficiency): Efficiency => Object.fromEntries(Object.entries(e).map(([k, v]) => [k, sig(v)])) as unknown as Efficiency;

function fit(gpuId: string, factors: FactorName[], targets: { point: Point; label: string; measured: number; of: (r: PointResult) => number | null }[], start?: Efficiency): GpuFit {
  const gpu = catalog.gpus.get(gpuId)!;
  return fitGpuFactors(
    targets.map((t) => ({ point: t.point, targets: [{ label: t.label, measured: t.measured, of: t.of }] })),
    { gpu, factors, catalog, ...(start ? { start } : {}) },
  );
}

const h100 = fit('h100-sxm', ['prefillCompute', 'stepOverheadS', 'allReduceLatencyS', 'eagerLayerOverheadS', 'connectorStepOverheadS'], [
  { point: ciPoint('dgx-h100', L8), label: 'vLLM CI 8B TP1 H100 batch latency (ms)', measured: 997.542, of: e2e },
  { point: ciPoint('dgx-h100', L70), label: 'vLLM CI 70B TP4 H100 batch latency (ms)', measured: 2444.47, of: e2e },
  { point: agg, label: 'seed 002 aggregated TTFT min (ms)', measured: 173, of: (r) => r.ttftMs.min },
  { point: eager, label: 'seed 000 70B TP8 eager ITL at 80k (ms)', measured: 28.5, of: itl },
  { point: dis, label: 'seed 002 disaggregated ITL mean (ms)', measured: 16.9, of: itl },
]);
const shared = rounded(h100.efficiency);
const h200 = fit('h200-sxm', ['stepOverheadS', 'allReduceLatencyS'], [
  { point: ciPoint('h200-roce', L8), label: 'vLLM CI 8B TP1 H200 batch latency (ms)', measured: 834.059, of: e2e },
  { point: ciPoint('h200-roce', L70), label: 'vLLM CI 70B TP4 H200 batch latency (ms)', measured: 2075.08, of: e2e },
], { ...shared, decodeMemory: catalog.gpus.get('h200-sxm')!.efficiency.decodeMemory.value });
const a100 = fit('a100-80gb', ['stepOverheadS', 'allReduceLatencyS'], [
  { point: ciPoint('hgx-a100', L8), label: 'vLLM CI 8B TP1 A100 batch latency (ms)', measured: 1579.27, of: e2e },
  { point: ciPoint('hgx-a100', L70), label: 'vLLM CI 70B TP4 A100 batch latency (ms)', measured: 3990.59, of: e2e },
], { ...shared, decodeMemory: catalog.gpus.get('a100-80gb')!.efficiency.decodeMemory.value });

for (const [id, f] of [['h100-sxm', h100], ['h200-sxm', h200], ['a100-80gb', a100]] as const) {
  console.log(`${id}: ${JSON.stringify(rounded(f.efficiency))}${f.atLimit.length ? ` (at a limit: ${f.atLimit.join(', ')})` : ''}`);
  for (const t of f.targets) {
    console.log(`  ${t.label.padEnd(46)} measured ${t.measured.toFixed(1).padStart(8)}  model ${t.modeled.toFixed(1).padStart(8)}  ${(t.error * 100).toFixed(1).padStart(6)}%`);
  }
}
console.log('\nThe rest of models/measurements/ is validation: npm run build && node bin/nixlsim.js fidelity');
