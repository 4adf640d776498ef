import { defaultCatalog, getGpu, getLlm } from '../../src/catalog/index.js';
import { weightBytesPerGpu } from '../../src/physics/index.js';
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

/**
 * Llama-3.1-8B on one H100 with a GPU pool of exactly 300 blocks: a 16-token block is 16 x 131,072 bytes (32 layers x
 * 8 KV heads x 128 x 2 (K and V) x 2 bytes a token), and the pool is floor((HBM x 0.9 - weights - reserve) / block
 * bytes), so a reserve that leaves 300.5 blocks gives 300.
 */
export function smallPoolH100() {
  const catalog = defaultCatalog();
  const llm = getLlm(catalog, 'llama-3.1-8b-instruct');
  const gpu = getGpu(catalog, 'h100-sxm');
  const blockBytes = 16 * 131_072;
  const reserve = gpu.hbmBytes * 0.9 - weightBytesPerGpu(llm, { tp: 1, dp: 1, ep: 1 }) - 300.5 * blockBytes;
  return { llm, gpu, blockBytes, reserve };
}
