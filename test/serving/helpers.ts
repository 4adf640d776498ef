import type { Seq } from '../../src/serving/engine.js';
import type { Deployment, Experiment, Point, Workload } from '../../src/spec/experiment.js';
import { VLLM_ENGINE } from '../helpers/fixtures.js';

/** A complete experiment with vLLM's default engine arguments; tests override what they study. */
export function experiment(over: { deployment?: Partial<Deployment>; workload?: Partial<Workload>; seed?: number; horizonS?: number; faults?: Experiment['faults'] } = {}): Experiment {
  const deployment: Deployment = {
    mode: 'disaggregated',
    model: 'llama-3.1-8b-instruct',
    gpu: 'h100-sxm',
    node: 'p5.48xlarge',
    connector: 'any-tp',
    transport: 'efa-libfabric',
    prefill: { workers: 1, tp: 1 },
    decode: { workers: 1, tp: 1 },
    aggregated: { workers: 1, tp: 1 },
    placement: 'cross-node',
    router: 'round-robin',
    engine: { ...VLLM_ENGINE },
    bandwidth: 'typical',
    failurePolicy: 'fallback',
    maxRetries: 0,
    ...over.deployment,
  };
  const workload: Workload = {
    kind: 'closed-loop',
    concurrency: 1,
    requests: 10,
    warmup: 0,
    rate: 1,
    isl: { mean: 1000, stddev: 0 },
    osl: { mean: 50, stddev: 0 },
    ...over.workload,
  };
  return { name: 'test', seed: over.seed ?? 1, deployment, workload, faults: over.faults ?? [], horizonS: over.horizonS ?? 86_400 };
}

export const point = (experiment: Experiment, params: Record<string, unknown> = {}): Point => ({ id: 'p000', params, experiment });

/** A one-token request of whole 16-token blocks named by `hashes`, for an Engine on its own; `onFinish` at its token. */
export const blockSeq = (id: string, hashes: string[], onFinish: () => void): Seq => ({
  id,
  promptTokens: hashes.length * 16,
  prefilled: 0,
  generated: 0,
  target: 1,
  hashes,
  blocks: 0,
  cachedRefs: [],
  state: 'waiting',
  holdOnFinish: false,
  onFinish,
});
