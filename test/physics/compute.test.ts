import { describe, expect, it } from 'vitest';
import { defaultCatalog, getGpu, getLlm } from '../../src/catalog/index.js';
import fc from 'fast-check';
import type { LlmSpec } from '../../src/spec/catalog.js';
import {
  allReduceBandwidth,
  allReduceTime,
  decodeStepTime,
  kvBytesPerTokenPerRank,
  matmulParams,
  prefillFlops,
  prefillStepTime,
  graphMode,
  hostTime,
  launchTime,
  maxCaptureSize,
  PEAK,
  StepCost,
  stepTime,
  type Efficiency,
  type StepContext,
} from '../../src/physics/index.js';

const c = defaultCatalog();
const m70 = getLlm(c, 'deepseek-r1-distill-llama-70b');
const m8 = getLlm(c, 'llama-3.1-8b-instruct');
const h100 = getGpu(c, 'h100-sxm');
/** Every efficiency 1 and every overhead 0: the physical bound's factors. */
const ideal: Efficiency = PEAK;

describe('prefill FLOPs', () => {
  it('counts 2 FLOPs per matmul parameter per token plus one LM head, and causal attention pairs', () => {
    // 8B: matmul params = 8.03e9 - 2 x 128256 x 4096 = 8.03e9 - 1,050,673,152 = 6,979,326,848
    const f = prefillFlops(m8, 1000);
    expect(f.linear).toBeCloseTo(2 * 6_979_326_848 * 1000 + 2 * 128_256 * 4096, -3);
    // attention: 32 layers x 2 products x 2 FLOPs x (32 heads x 128) x (1000 x 1001 / 2) pairs
    expect(f.attention).toBeCloseTo(32 * 4 * 4096 * 500_500, -3);
  });

  it('a cached prefix removes its tokens and pairs', () => {
    const all = prefillFlops(m8, 1000);
    const half = prefillFlops(m8, 1000, 500);
    expect(half.attention).toBeCloseTo(32 * 4 * 4096 * (500_500 - 125_250), -3);
    expect(half.linear).toBeLessThan(all.linear);
  });
});

describe('prefill step time scaling', () => {
  it('doubling ISL more than doubles prefill time at long context (attention is quadratic)', () => {
    const t32 = prefillStepTime(m70, h100, 8, [{ tokens: 32_000 }]).totalS;
    const t64 = prefillStepTime(m70, h100, 8, [{ tokens: 64_000 }]).totalS;
    expect(t64 / t32).toBeGreaterThan(2);
  });

  it('doubling TP roughly halves it (a bit less than 2x: all-reduce and overhead do not shrink)', () => {
    const t4 = prefillStepTime(m70, h100, 4, [{ tokens: 8000 }]).totalS;
    const t8 = prefillStepTime(m70, h100, 8, [{ tokens: 8000 }]).totalS;
    expect(t4 / t8).toBeGreaterThan(1.6);
    expect(t4 / t8).toBeLessThanOrEqual(2);
  });

  it('at 100% efficiency, 8B at 8000 tokens on one H100 is compute-bound at FLOPs / 989e12', () => {
    const f = prefillFlops(m8, 8000);
    const t = prefillStepTime(m8, h100, 1, [{ tokens: 8000 }], ideal);
    expect(t.totalS).toBeCloseTo((f.linear + f.attention) / 989e12, 9);
  });
});

describe('decode step time', () => {
  it('at 100% efficiency a single 8B sequence on one H100 is weight-bound: 8.03e9 x 2 B / 3.35e12 B/s', () => {
    const t = decodeStepTime(m8, h100, 1, [1], ideal);
    expect(t.memoryS).toBeCloseTo((8.03e9 * 2 + 131_072) / 3.35e12, 12);
    expect(t.totalS).toBeCloseTo(t.memoryS, 12);
  });

  it('KV traffic grows with context: 70B TP8 at 120k reads 120,000 x 40,960 B a rank more than at 1 token', () => {
    const a = decodeStepTime(m70, h100, 8, [1], ideal).memoryS;
    const b = decodeStepTime(m70, h100, 8, [120_001], ideal).memoryS;
    expect(b - a).toBeCloseTo((120_000 * 40_960) / 3.35e12, 12);
  });
});

describe('all-reduce', () => {
  it('ring all-reduce of 1 GB over 8 H100s: 2 x 7/8 x 1e9 / 450e9 s', () => {
    expect(allReduceTime(h100, 8, 1e9)).toBeCloseTo((2 * 7) / 8 / 450, 12);
    expect(allReduceTime(h100, 1, 1e9)).toBe(0);
  });

  it('a small all-reduce is latency-bound: one decode token of the 70B model at TP8 with 10 us latency', () => {
    // 8192 x 2 B = 16,384 B per rank; ring traffic 2 x 7/8 x 16,384 B / 450e9 B/s = 63.7 ns, under the 10 us latency.
    const t = allReduceTime(h100, 8, 16_384, 10e-6);
    expect(t).toBeCloseTo(10e-6 + (2 * 7 * 16_384) / 8 / 450e9, 15);
    expect(t).toBeLessThan(10.1e-6);
  });

  it('two per layer: a 70B TP8 decode step of one token pays 160 all-reduces, 1.6 ms at 10 us each', () => {
    const eff = { ...ideal, allReduceLatencyS: 10e-6 };
    const t = decodeStepTime(m70, h100, 8, [1000], eff);
    // 80 layers x 2 x (10 us + 63.7 ns) = 1.6102 ms: the "~1.6 ms per 70B decode step".
    expect(t.allReduceS).toBeCloseTo(160 * (10e-6 + (2 * 7 * 16_384) / 8 / 450e9), 12);
    expect(t.allReduceS * 1e3).toBeCloseTo(1.61, 2);
  });
});

describe('tensor parallelism across nodes', () => {
  // DGX H100: 8 GPUs, 8 x 400 Gb/s NICs = 50 GB/s a GPU; NVLink 450 GB/s a direction.
  const dgx = { gpusPerNode: 8, nicBandwidthPerGpu: (8 * 50e9) / 8 };

  it('a TP group within a node all-reduces over NVLink; a wider one over the NICs, at 50 GB/s a GPU', () => {
    expect(allReduceBandwidth(h100, 8, dgx)).toBe(450e9);
    expect(allReduceBandwidth(h100, 16, dgx)).toBe(50e9);
    expect(allReduceBandwidth(h100, 16)).toBe(450e9); // no node given: NVLink, as before
  });

  it('prices a 70B TP16 prefill of 1000 tokens: 160 all-reduces of 16.4 MB, each 2 x 15/16 x bytes over 50 GB/s', () => {
    const ctx: StepContext = { enforceEager: false, maxCaptureSize: 512, connector: false, node: dgx };
    const t = prefillStepTime(m70, h100, 16, [{ tokens: 1000 }], PEAK, ctx);
    // 1000 tokens x 8192 x 2 B = 16,384,000 B an all-reduce: 2 x 15 / 16 x 16,384,000 / 50e9 = 614.4 us; x 160.
    expect(t.allReduceS).toBeCloseTo(160 * ((2 * 15 * 16_384_000) / 16 / 50e9), 12);
    expect(t.allReduceS).toBeCloseTo(0.098304, 9);
    // Over NVLink it would be 9x less.
    expect(prefillStepTime(m70, h100, 16, [{ tokens: 1000 }], PEAK).allReduceS * 9).toBeCloseTo(t.allReduceS, 12);
  });
});

describe('graph modes and launches', () => {
  const ctx: StepContext = { enforceEager: false, maxCaptureSize: 512, connector: false };

  it("vLLM's largest captured batch: min(2 x max_num_seqs, 512, max_num_batched_tokens)", () => {
    expect(maxCaptureSize(1024, 8192)).toBe(512);
    expect(maxCaptureSize(128, 8192)).toBe(256);
    expect(maxCaptureSize(1024, 300)).toBe(300);
  });

  it('decode-only batches up to the captured size replay one full graph; mixed or larger ones run piecewise', () => {
    expect(graphMode(ctx, 0, 8)).toBe('full');
    expect(graphMode(ctx, 0, 512)).toBe('full');
    expect(graphMode(ctx, 0, 513)).toBe('piecewise');
    expect(graphMode(ctx, 1, 8)).toBe('piecewise');
    expect(graphMode({ ...ctx, enforceEager: true }, 0, 8)).toBe('eager');
  });

  it('launch time: nothing for a full graph, layers x per-layer cost otherwise (32 layers x 30 us = 0.96 ms)', () => {
    const eff = { ...ideal, piecewiseLayerOverheadS: 30e-6, eagerLayerOverheadS: 232e-6 };
    expect(launchTime(m8, eff, 'full')).toBe(0);
    expect(launchTime(m8, eff, 'piecewise')).toBeCloseTo(32 * 30e-6, 15);
    expect(launchTime(m70, eff, 'eager')).toBeCloseTo(80 * 232e-6, 15);
  });

  it('launches overlap the GPU: an eager 70B TP8 decode is launch-bound, so its step does not grow with context', () => {
    // GPU work: 70.6e9 x 2 B / 8 = 17.65 GB of weights a rank, plus 40,960 B of KV a token, at 3.35 TB/s; 40k tokens
    // read 1.64 GB (0.49 ms), 120k 4.92 GB (1.47 ms): at most ~6.7 ms, under 80 layers x 232 us = 18.56 ms of launches.
    const eff = { ...ideal, eagerLayerOverheadS: 232e-6 };
    const eager = { ...ctx, enforceEager: true };
    const at40k = decodeStepTime(m70, h100, 8, [40_000], eff, eager);
    const at120k = decodeStepTime(m70, h100, 8, [120_000], eff, eager);
    expect(at40k.totalS).toBeCloseTo(80 * 232e-6, 12);
    expect(at120k.totalS).toBe(at40k.totalS);
    // With CUDA graphs the same steps are memory-bound and do grow: (17.65e9 + 120,000 x 40,960) / 3.35e12 s, plus
    // the 160 all-reduces' ring traffic (63.7 ns each, no latency here).
    const graphs = decodeStepTime(m70, h100, 8, [120_000], eff, ctx);
    expect(graphs.totalS).toBeCloseTo((70.6e9 * 2) / 8 / 3.35e12 + (120_000 * 40_960) / 3.35e12 + (160 * 2 * 7 * 16_384) / 8 / 450e9, 12);
  });

  it('host time adds, and a disaggregated worker pays its connector every step (2.4 ms + 7.5 ms)', () => {
    const eff = { ...ideal, stepOverheadS: 2.4e-3, connectorStepOverheadS: 7.5e-3 };
    expect(hostTime(eff, false)).toBe(2.4e-3);
    expect(hostTime(eff, true)).toBeCloseTo(9.9e-3, 15);
    const gpuOnly = decodeStepTime(m8, h100, 1, [8000], ideal).totalS;
    expect(decodeStepTime(m8, h100, 1, [8000], eff, { ...ctx, connector: true }).totalS).toBeCloseTo(gpuOnly + 9.9e-3, 12);
    expect(decodeStepTime(m8, h100, 1, [8000], eff, ctx).totalS).toBeCloseTo(gpuOnly + 2.4e-3, 12);
  });
});

describe('StepCost (an engine\'s step times, worked out once)', () => {
  /**
   * The step roofline restated term by term from the per-token physics (prefillFlops for each chunk, 2 FLOPs per
   * matmul parameter and 4 x width per context token and layer for each decode, weights once, every context's KV
   * once, two all-reduces per layer, the overhead): a reference that shares nothing with StepCost but the primitives.
   */
  function reference(llm: LlmSpec, tp: number, prefill: { tokens: number; cached: number }[], decode: number[], eff: Efficiency, ctx: StepContext): number {
    let linear = 0;
    let attention = 0;
    let tokens = 0;
    let cached = 0;
    for (const p of prefill) {
      const f = prefillFlops(llm, p.cached + p.tokens, p.cached);
      linear += f.linear;
      attention += f.attention;
      tokens += p.tokens;
      cached += p.cached;
    }
    const width = llm.heads * llm.headDim;
    const context = decode.reduce((a, b) => a + b, 0);
    linear += 2 * matmulParams(llm) * decode.length;
    attention += 2 * 2 * width * llm.layers * context;
    tokens += decode.length;
    const bytesPerParam = llm.weightDtype === 'fp8' ? 1 : 2;
    const weights = Math.min(llm.params, llm.activeParams * Math.max(1, prefill.length + decode.length)) * bytesPerParam;
    const memoryS = (weights / tp + (cached + context) * kvBytesPerTokenPerRank(llm, tp)) / (h100.hbmBandwidth * eff.decodeMemory);
    const peak = llm.weightDtype === 'fp8' && h100.flops.fp8 !== null ? h100.flops.fp8 : h100.flops.bf16;
    const computeS = (linear / peak + attention / h100.flops.bf16) / (tp * eff.prefillCompute);
    const allReduceS = tp > 1 ? 2 * llm.layers * (eff.allReduceLatencyS + (2 * (tp - 1) * tokens * llm.hiddenSize * 2) / tp / (h100.nvlinkBandwidth / 2)) : 0;
    const mode = ctx.enforceEager ? 'eager' : prefill.length === 0 && decode.length <= ctx.maxCaptureSize ? 'full' : 'piecewise';
    const launchS = mode === 'full' ? 0 : llm.layers * (mode === 'eager' ? eff.eagerLayerOverheadS : eff.piecewiseLayerOverheadS);
    const hostS = eff.stepOverheadS + (ctx.connector ? eff.connectorStepOverheadS : 0);
    return hostS + Math.max(Math.max(computeS, memoryS) + allReduceS, launchS);
  }

  it('gives the roofline of the per-token physics, to the last bit, for any mix of chunks and decodes', () => {
    // By hand, one 1000-token prefill of the 8B model (bf16) at TP1 with ideal efficiency is compute-bound:
    // (linear + attention FLOPs) / the bf16 peak, with prefillFlops' figures (checked by hand above).
    const f = prefillFlops(m8, 1000);
    expect(new StepCost(m8, h100, 1, ideal).seconds({ prefill: [{ tokens: 1000, cached: 0 }], decode: [] })).toBeCloseTo(
      (f.linear + f.attention) / h100.flops.bf16,
      12,
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ tokens: fc.integer({ min: 1, max: 8192 }), cached: fc.integer({ min: 0, max: 8192 }) }), { maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 100_000 }), { maxLength: 64 }),
        fc.constantFrom(1, 2, 4, 8),
        fc.record({ enforceEager: fc.boolean(), maxCaptureSize: fc.constantFrom(8, 512), connector: fc.boolean() }),
        (prefill, decode, tp, ctx) => {
          const eff = { ...ideal, stepOverheadS: 0.003, eagerLayerOverheadS: 0.0001, piecewiseLayerOverheadS: 0.00003, allReduceLatencyS: 0.00001, connectorStepOverheadS: 0.005 };
          for (const llm of [m8, m70]) {
            const want = reference(llm, tp, prefill, decode, eff, ctx);
            expect(new StepCost(llm, h100, tp, eff, ctx).seconds({ prefill, decode })).toBe(want);
            expect(stepTime(llm, h100, tp, { prefill, decode }, eff, ctx).totalS).toBe(want);
          }
        },
      ),
      { numRuns: 200, seed: 20261121 },
    );
  });
});
