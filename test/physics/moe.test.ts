import { describe, expect, it } from 'vitest';
import { defaultCatalog, getAllToAll, getGpu, getLlm } from '../../src/catalog/index.js';
import { UserError } from '../../src/errors.js';
import {
  allReduceTime,
  allToAllTime,
  atEp,
  checkParallelism,
  defaultEfficiency,
  expectedDomainsPerToken,
  missProbability,
  moeStepTime,
  routedActiveParams,
  routedParams,
  samplingImbalance,
  weightBytesPerGpu,
  weightBytesPerRank,
  type ExpertFabric,
  type MoeContext,
} from '../../src/physics/index.js';
import { dataParallelArgs, kvPoolBlocks } from '../../src/serving/engine.js';

const c = defaultCatalog();
const v3 = getLlm(c, 'deepseek-v3');
const qwen = getLlm(c, 'qwen3-235b-a22b');
const llama = getLlm(c, 'llama-3.1-8b-instruct');
const h100 = getGpu(c, 'h100-sxm');
const h200 = getGpu(c, 'h200-sxm');
const deepep = getAllToAll(c, 'deepep-v1');
/** A DGX H100/H200: 8 GPUs of 900 GB/s NVLink (bidirectional), one 400 Gb/s (50 GB/s) NIC each. */
const dgx: ExpertFabric = { gpusPerNode: 8, nvlinkDomainGpus: 8, nicBandwidthPerGpu: 50e9, nvlinkBandwidth: 900e9 };

/** One expert of V3 in one layer: gate, up, down of 7168 x 2048. */
const V3_EXPERT = 3 * 7168 * 2048; // 44,040,192
/** The chance 8 distinct experts of 128 all miss a given 16 (a rank's share of the 4 groups a V3 token picks). */
const MISS_16_OF_128 = (112 * 111 * 110 * 109 * 108 * 107 * 106 * 105) / (128 * 127 * 126 * 125 * 124 * 123 * 122 * 121);

describe('weights per GPU', () => {
  it('routed experts over every GPU of the worker, the rest on each DP rank, split by TP', () => {
    // 256 experts x 58 MoE layers x 44,040,192 = 653,908,770,816 routed parameters; 671e9 - those = 17,091,229,184.
    expect(routedParams(v3)).toBe(653_908_770_816);
    expect(routedActiveParams(v3)).toBe(8 * 58 * V3_EXPERT);
    // DP8 EP8 TP1 (fp8, 1 byte): 17,091,229,184 + 653,908,770,816 / 8 = 98,829,825,536 B, which an H200 (141 GB) holds
    // and an H100 (80 GB) does not: vLLM's expert-parallel guide says as much of DeepSeek-V3 at DP8 on one node.
    expect(weightBytesPerGpu(v3, { tp: 1, dp: 8, ep: 8 })).toBe(98_829_825_536);
    // TP2 x DP4: the non-routed half of each rank's TP pair, the routed eighth: 8,545,614,592 + 81,738,596,352.
    expect(weightBytesPerGpu(v3, { tp: 2, dp: 4, ep: 8 })).toBe(90_284_210_944);
    // No DP, no EP: params / tp exactly, as weightBytesPerRank (TP8: 83.875 GB).
    expect(weightBytesPerGpu(v3, { tp: 8, dp: 1, ep: 1 })).toBe(weightBytesPerRank(v3, 8));
    expect(weightBytesPerGpu(v3, { tp: 8, dp: 1, ep: 1 })).toBe(83.875e9);
    // Qwen3-235B (bf16): 128 x 94 x 3 x 4096 x 1536 = 227,096,395,776 routed; DP8 EP8:
    // (235e9 - 227,096,395,776) x 2 + 227,096,395,776 x 2 / 8 = 15,807,208,448 + 56,774,098,944.
    expect(routedParams(qwen)).toBe(227_096_395_776);
    expect(weightBytesPerGpu(qwen, { tp: 1, dp: 8, ep: 8 })).toBe(72_581_307_392);
    expect(routedParams(llama)).toBe(0);
  });

  it("a DP worker's KV pool is each rank's, times dp", () => {
    const args = { maxNumBatchedTokens: 8192, maxNumSeqs: 1024, blockSize: 16, gpuMemoryUtilization: 0.9, activationReserveBytes: 4e9, prefixCaching: true, chunkedPrefill: true };
    const cfg = { id: 'd', llm: v3, tp: 1, args, eff: defaultEfficiency(h200), parallel: { dp: 8, ep: 8 } };
    // H200: 141e9 x 0.9 - 98,829,825,536 - 4e9 = 24,070,174,464 B per GPU / (16 tokens x 70,272 B) = 21,408 blocks a rank.
    expect(kvPoolBlocks({ ...cfg, gpu: h200 })).toBe(21_408 * 8);
    // H100: 72 GB usable, 98.8 GB of weights per GPU.
    expect(() => kvPoolBlocks({ ...cfg, gpu: h100 })).toThrow(/^deepseek-v3 at TP1 x DP8 \(EP8\) does not fit on h100-sxm: 72\.0 GB usable per GPU, 98\.8 GB of weights per GPU/);
  });

  it("each DP rank's budgets: the worker's are dp times them, a prompt's chunk at most one rank's", () => {
    const args = { maxNumBatchedTokens: 8192, maxNumSeqs: 1024, blockSize: 16, gpuMemoryUtilization: 0.9, activationReserveBytes: 4e9, prefixCaching: true, chunkedPrefill: true };
    expect(dataParallelArgs(args, 1)).toBe(args);
    const w = dataParallelArgs(args, 8);
    expect([w.maxNumSeqs, w.maxNumBatchedTokens, w.longPrefillTokenThreshold]).toEqual([8192, 65_536, 8192]);
    expect(dataParallelArgs({ ...args, longPrefillTokenThreshold: 2048 }, 4).longPrefillTokenThreshold).toBe(2048);
  });
});

describe("vLLM's parallelism rules", () => {
  const msg = (f: () => void) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      return (e as Error).message;
    }
    return '';
  };
  it('EP is every GPU of the worker or none; dense models have neither EP nor DP ranks', () => {
    expect(msg(() => checkParallelism(v3, { tp: 1, dp: 16, ep: 16 }))).toBe('');
    expect(msg(() => checkParallelism(v3, { tp: 2, dp: 4, ep: 1 }))).toBe('');
    expect(msg(() => checkParallelism(v3, { tp: 2, dp: 4, ep: 4 }))).toBe(
      "ep 4: vLLM's expert group is every GPU of the worker, tp x dp = 2 x 4 = 8 with --enable-expert-parallel (ep 8), or 1 without it (the experts split by tensor parallelism over those 8 GPUs)",
    );
    expect(msg(() => checkParallelism(llama, { tp: 1, dp: 1, ep: 2 }))).toMatch(/^ep 2: 'llama-3\.1-8b-instruct' is a dense model, it has no experts to split/);
    expect(msg(() => checkParallelism(llama, { tp: 1, dp: 4, ep: 1 }))).toMatch(/^dp 4: 'llama-3\.1-8b-instruct' is a dense model, .*write them as workers \(workers x 4\) with dp 1$/);
  });
});

describe('where one token goes', () => {
  it('k distinct picks missing m of n: the product of the shrinking odds', () => {
    expect(missProbability(8, 4, 4)).toBeCloseTo(1 / 70, 15); // C(4,4) / C(8,4)
    expect(missProbability(8, 1, 4)).toBeCloseTo(0.5, 15); // 7/8 x 6/7 x 5/6 x 4/5
    expect(missProbability(10, 8, 3)).toBe(0); // 3 picks cannot all miss 8 of 10
  });

  it("V3's group-limited routing: 4 of 8 groups, its 8 experts inside them", () => {
    // Two nodes of 4 groups each: both reached unless the 4 groups are one node's, 2 x (1 - 1/70).
    expect(expectedDomainsPerToken(v3.moe!, 2)).toBeCloseTo(2 * (69 / 70), 12);
    // Eight nodes of one group each: the 4 groups picked, exactly 4 (8 x (1 - 4/8)).
    expect(expectedDomainsPerToken(v3.moe!, 8)).toBeCloseTo(4, 12);
    // Four nodes of 2 groups: 4 x (1 - C(6,4)/C(8,4)) = 4 x (1 - 15/70).
    expect(expectedDomainsPerToken(v3.moe!, 4)).toBeCloseTo(4 * (55 / 70), 12);
    // Sixteen ranks, each half a group: its group picked (4/8), then not all 8 experts in the other 112 of the 128.
    expect(expectedDomainsPerToken(v3.moe!, 16)).toBeCloseTo(16 * 0.5 * (1 - MISS_16_OF_128), 12);
    // Qwen3-235B has no groups: 8 of 128 experts anywhere, 8 ranks of 16 experts each.
    expect(expectedDomainsPerToken(qwen.moe!, 8)).toBeCloseTo(8 * (1 - MISS_16_OF_128), 12);
    expect(expectedDomainsPerToken(qwen.moe!, 1)).toBe(1);
  });

  it('the busiest rank from sampling alone: sqrt(2 ln ranks x mean) over the mean', () => {
    // 256 tokens a GPU at EP72: 256 x 8 = 2048 assignments a rank.
    expect(samplingImbalance(2048, 72)).toBeCloseTo(1 + Math.sqrt((2 * Math.log(72)) / 2048), 12);
    expect(samplingImbalance(2048, 72)).toBeCloseTo(1.0646, 4);
    // 4 a rank at EP16: the busiest has about twice and a fifth of the mean.
    expect(samplingImbalance(4, 16)).toBeCloseTo(1 + Math.sqrt(Math.log(16) / 2), 12);
    expect(samplingImbalance(0.01, 4)).toBe(4); // never more than everything
    expect(samplingImbalance(100, 1)).toBe(1);
  });
});

describe("DeepEP's dispatch and combine (models/all-to-all/deepep-v1.yaml)", () => {
  it('EP sizes between rows interpolate in log2(ep); outside, the nearest row', () => {
    const ll = deepep.lowLatency.points;
    // EP96: 173 us at EP64, 192 at EP128, log2(96) - 6 = 0.585 of the way.
    expect(atEp(ll, 96, (r) => r.dispatchS)).toBeCloseTo(173e-6 + (Math.log2(96) - 6) * 19e-6, 15);
    expect(atEp(ll, 96, (r) => r.dispatchS) * 1e6).toBeCloseTo(184.11, 2);
    expect(atEp(ll, 16, (r) => r.combineS)).toBe(195e-6);
    expect(atEp(ll, 4, (r) => r.dispatchS)).toBe(77e-6);
    expect(atEp(ll, 512, (r) => r.combineS)).toBe(360e-6);
  });

  it('low-latency: the published latency, or the bytes (a copy per token and expert) over the bandwidth when longer', () => {
    // EP16 over two DGX H100 nodes, 128 tokens a rank: 128 x 8 x 7168 x 1.03125 = 7,569,408 B at 63 GB/s = 120.1 us,
    // a little over the README's 118 us (its bandwidth counts 2% fewer bytes than this); combine 14,680,064 B at
    // 74 GB/s = 198.4 us against 195.
    const t = allToAllTime(deepep, 'low-latency', v3, 16, 16 * 128, dgx);
    expect(t.dispatchS).toBeCloseTo(7_569_408 / 63e9, 15);
    expect(t.combineS).toBeCloseTo(14_680_064 / 74e9, 15);
    // 32 tokens a rank: latency-bound, the published latency (the model's floor).
    const small = allToAllTime(deepep, 'low-latency', v3, 16, 16 * 32, dgx);
    expect([small.dispatchS, small.combineS]).toEqual([118e-6, 195e-6]);
    // Half the NIC bandwidth per GPU (200 Gb/s NICs): the bandwidth side halves, the latency stays.
    const slow = allToAllTime(deepep, 'low-latency', v3, 16, 16 * 128, { ...dgx, nicBandwidthPerGpu: 25e9 });
    expect(slow.dispatchS).toBeCloseTo(7_569_408 / 31.5e9, 15);
    // The busiest rank's share: imbalance 1.5 on 32 tokens a rank is 48 tokens' bytes, still under the latency.
    expect(allToAllTime(deepep, 'low-latency', v3, 16, 16 * 32, dgx, 1.5).dispatchS).toBe(118e-6);
    // BF16 weights dispatch BF16: Qwen3-235B's 4096 x 2 bytes a copy.
    expect(allToAllTime(deepep, 'low-latency', qwen, 16, 16 * 256, dgx).dispatchS).toBeCloseTo((256 * 8 * 4096 * 2) / 63e9, 15);
  });

  it('high-throughput within a node: once per GPU reached, at the NVLink figure scaled by this GPU', () => {
    // EP8 on one H100 node, 4096 tokens a GPU: each reaches 4 GPUs (one group each); 4096 x 4 x 7168 x 1.03125 =
    // 121,110,528 B at 153 GB/s x 900 / 400 = 344.25 GB/s: 351.8 us. Combine: 4096 x 4 x 7168 x 2 at 158 x 2.25.
    const t = allToAllTime(deepep, 'high-throughput', v3, 8, 8 * 4096, dgx);
    expect(t.domain).toBe('scale-up');
    expect(t.dispatchS).toBeCloseTo(121_110_528 / 344.25e9, 15);
    expect(t.dispatchS * 1e6).toBeCloseTo(351.8, 1);
    expect(t.combineS).toBeCloseTo(234_881_024 / 355.5e9, 15);
  });

  it('high-throughput across nodes: once per node reached, at the RDMA figure for the EP size', () => {
    // EP32 over 4 DGX H100 nodes (2 groups a node): 4 x 55/70 = 3.1429 nodes a token; 4096 tokens a GPU x 3.1429 x
    // 7392 B at 58 GB/s; combine x 14336 B at 57 GB/s.
    const t = allToAllTime(deepep, 'high-throughput', v3, 32, 32 * 4096, dgx);
    expect(t.domain).toBe('scale-out');
    expect(t.dispatchS).toBeCloseTo((4096 * ((4 * 55) / 70) * 7392) / 58e9, 12);
    expect(t.combineS).toBeCloseTo((4096 * ((4 * 55) / 70) * 14336) / 57e9, 12);
    // On RoCE at half the line rate a GPU, twice the time.
    expect(allToAllTime(deepep, 'high-throughput', v3, 32, 32 * 4096, { ...dgx, nicBandwidthPerGpu: 25e9 }).dispatchS).toBeCloseTo(2 * t.dispatchS, 12);
  });
});

describe('a DP/EP worker step (MoeStepCost)', () => {
  const e = defaultEfficiency(h200);
  const ctx = (mode: 'low-latency' | 'high-throughput'): MoeContext => ({
    enforceEager: false,
    maxCaptureSize: 512,
    connector: false,
    node: { gpusPerNode: 8, nicBandwidthPerGpu: 50e9, nvlinkDomainGpus: 8 },
    fabric: dgx,
    allToAll: { spec: deepep, mode },
  });
  // V3 in numbers the terms use: non-routed matmul parameters a token = 37e9 - 2 x 129,280 x 7168 (embedding, LM
  // head) - 8 x 58 x 44,040,192 (routed) = 14,711,992,832; attention per context token (absorbed MLA) = 2 x 2 x 128
  // heads x 576 x 61 layers; fp8 peak 1979 TFLOP/s for matmuls, bf16 989 for attention.
  const NON_ROUTED = 14_711_992_832;
  const ATTN_PER_CONTEXT = 4 * 128 * 576 * 61;
  const HBM = 4.8e12 * 0.9;

  it('a decode step on DP8 EP8 (one H200 node, low latency): every term by hand', () => {
    // 8 ranks x 16 sequences at 1000 tokens of context: 128 tokens, 1024 token-expert assignments, 128 a rank.
    const t = moeStepTime(v3, h200, { tp: 1, dp: 8, ep: 8 }, { prefill: [], decode: new Array<number>(128).fill(1000) }, e, ctx('low-latency'));
    const imbalance = 1 + Math.sqrt((2 * Math.log(8)) / 128);
    expect(t.imbalance).toBeCloseTo(imbalance, 12);
    // A rank: its 16 sequences' non-routed matmuls and attention, at 76.1% of peak; its GPU's experts: 128 x imbalance
    // assignments of 2 x 44,040,192 x 58 FLOPs.
    const rank = ((2 * NON_ROUTED * 16) / 1979e12 + (ATTN_PER_CONTEXT * 16_000) / 989e12) / 0.761;
    const experts = (2 * V3_EXPERT * 58 * 128 * imbalance) / 1979e12 / 0.761;
    expect(t.computeS).toBeCloseTo(rank + experts, 12);
    // Bytes: the non-routed weights, 16 x 1000 tokens of KV (70,272 B each), and the rank's experts the 128 tokens
    // touch (32 each, touched with probability 1 - (31/32)^128).
    const touched = 256 * (1 - Math.pow(31 / 32, 128));
    expect(t.memoryS).toBeCloseTo((17_091_229_184 + 16_000 * 70_272) / HBM + ((touched / 8) * V3_EXPERT * 58) / HBM, 12);
    // Dispatch and combine: 16 tokens a rank is far under the 128 of the published latency, so 77 + 114 us a layer.
    expect(t.moeCommS).toBeCloseTo(58 * (77e-6 + 114e-6), 12);
    expect(t.allReduceS).toBe(0); // TP1: no all-reduce
    expect(t.mode).toBe('full'); // 16 decodes a rank, under the captured 512
    expect(t.totalS).toBeCloseTo(0.00273 + Math.max(t.computeS, t.memoryS) + t.moeCommS, 12);
  });

  it('one long prompt is on one rank: the lockstep waits for it, not for an eighth of it', () => {
    const one = moeStepTime(v3, h200, { tp: 1, dp: 8, ep: 8 }, { prefill: [{ tokens: 8192, cached: 0 }], decode: [] }, e, ctx('high-throughput'));
    const prompt = (2 * NON_ROUTED * 8192 + 2 * 129_280 * 7168) / 1979e12 + (61 * 4 * 128 * 576 * ((8192 * 8193) / 2)) / 989e12;
    const assignments = 8192 * 8;
    const experts = (2 * V3_EXPERT * 58 * (assignments / 8) * samplingImbalance(assignments / 8, 8)) / 1979e12 / 0.761;
    expect(one.computeS).toBeCloseTo(prompt / 0.761 + experts, 12);
    expect(one.mode).toBe('piecewise'); // DeepEP's normal kernels are not captured in CUDA graphs
    // Eight such prompts, one a rank: the rank's part is the same (each rank has one), only the experts' grows, from
    // 8192 assignments a GPU to 65,536.
    const eight = moeStepTime(v3, h200, { tp: 1, dp: 8, ep: 8 }, { prefill: Array.from({ length: 8 }, () => ({ tokens: 8192, cached: 0 })), decode: [] }, e, ctx('high-throughput'));
    const perAssignment = (2 * V3_EXPERT * 58) / 1979e12 / 0.761;
    expect(eight.computeS - one.computeS).toBeCloseTo(perAssignment * (65_536 * samplingImbalance(65_536, 8) - 8192 * samplingImbalance(8192, 8)), 12);
  });

  it('DP without EP: the experts split over the tp x dp GPUs, the tokens all-gathered and reduce-scattered', () => {
    const eff = defaultEfficiency(h100);
    const t = moeStepTime(v3, h100, { tp: 4, dp: 2, ep: 1 }, { prefill: [], decode: new Array<number>(64).fill(2000) }, eff, { ...ctx('low-latency'), allToAll: undefined });
    // 64 tokens' hidden states (7168 x 2 B) over the 8 GPUs: a ring all-reduce's traffic in each of the 58 MoE layers,
    // at NVLink's 450 GB/s a direction, plus its latency.
    expect(t.moeCommS).toBeCloseTo(58 * allReduceTime(h100, 8, 64 * 7168 * 2, eff.allReduceLatencyS, 450e9), 15);
    // Each rank's TP4 all-reduces its 32 tokens after attention in all 61 layers and after the 3 dense FFNs.
    expect(t.allReduceS).toBeCloseTo(64 * allReduceTime(h100, 4, 32 * 7168 * 2, eff.allReduceLatencyS, 450e9), 15);
    expect(t.imbalance).toBe(1);
  });

  it('a worker with EP needs all-to-all kernels to price', () => {
    expect(() => moeStepTime(v3, h200, { tp: 1, dp: 8, ep: 8 }, { prefill: [], decode: [1000] }, e, { ...ctx('low-latency'), allToAll: undefined })).toThrow(/names no all-to-all kernels/);
  });
});
