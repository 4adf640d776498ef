import { describe, expect, it } from 'vitest';
import { defaultCatalog, getGpu, getLlm, getNode, getTransport } from '../../src/catalog/index.js';
import { decodeStepTime, prefillStepTime } from '../../src/physics/index.js';
import { capacityFrom, ceilings, type EstimateContext } from '../../src/plan/estimate.js';
import { VLLM_ENGINE } from '../helpers/fixtures.js';

const catalog = defaultCatalog();
const llm = getLlm(catalog, 'llama-3.1-8b-instruct');
const gpu = getGpu(catalog, 'h100-sxm');
/** Seed 002: Llama-3.1-8B on p5.48xlarge over EFA (libfabric), ISL 8000, OSL 50. */
const ctx: EstimateContext = {
  llm,
  gpu,
  node: getNode(catalog, 'p5.48xlarge'),
  transport: getTransport(catalog, 'efa-libfabric'),
  engine: VLLM_ENGINE,
  bandwidth: 'typical',
  islMean: 8000,
  oslMean: 50,
};

describe('physics ceilings of a configuration', () => {
  it('seed 002, 5 TP1 prefill + 3 TP1 decode: the KV transfer ceiling is 3 decode workers x 4 EFA rails x 10 GB/s over 1.05 GB', () => {
    const k = ceilings({ mode: 'disaggregated', prefill: { workers: 5, tp: 1 }, decode: { workers: 3, tp: 1 } }, ctx);
    // A TP1 worker has 32 EFA NICs / 8 GPUs = 4 rails of 10 GB/s = 40 GB/s. One request's KV: 8000 tokens = 500
    // blocks of 16 x 131,072 B = 1,048,576,000 B. The narrower side is decode: 3 x 40 = 120 GB/s, so
    // 120e9 / 1.048576e9 = 114.44 requests/s.
    expect(k.kvTransfer).toBeCloseTo(120e9 / 1.048576e9, 9);
    expect(k.basis).toMatchObject({ kvBytes: 1048576000, prefillWorkerBps: 40e9, decodeWorkerBps: 40e9 });
    // Prefill: 5 workers, each one 8000-token prompt per prefill step.
    expect(k.prefill).toBeCloseTo(5 / prefillStepTime(llm, gpu, 1, [{ tokens: 8000 }]).totalS, 9);
    // Disaggregated capacity is the lowest ceiling.
    expect(capacityFrom('disaggregated', k)).toBe(Math.min(k.prefill, k.decode, k.kvTransfer!));
  });

  it('aggregated: a worker both prefills and decodes, so its time per request is the sum of the two', () => {
    const k = ceilings({ mode: 'aggregated', aggregated: { workers: 8, tp: 1 } }, ctx);
    expect(k.kvTransfer).toBeUndefined();
    // Prefill: each of the 8 workers prefills one 8000-token prompt per step.
    const prefillS = prefillStepTime(llm, gpu, 1, [{ tokens: 8000 }]).totalS;
    expect(k.prefill).toBeCloseTo(8 / prefillS, 9);
    // Decode batch: the KV pool holds (80e9 x 0.9 - 8.03e9 params x 2 B - 4e9 reserve) / (16 x 131,072 B) = 24,766
    // blocks = 396,256 tokens, so floor(396,256 / (8000 + 50)) = 49 requests at once (fewer than max_num_seqs 256),
    // each at its mean length 8000 + 50 / 2 = 8025 mid-decode. A request takes 50 of those steps.
    const stepS = decodeStepTime(llm, gpu, 1, new Array<number>(49).fill(8025)).totalS;
    expect(k.decode).toBeCloseTo((8 * 49) / (50 * stepS), 9);
    // Each worker spends prefillS + 50 x stepS / 49 on a request.
    expect(capacityFrom('aggregated', k)).toBeCloseTo(8 / (prefillS + (50 * stepS) / 49), 9);
  });
});
