import { describe, expect, it } from 'vitest';
import { defaultCatalog, getGpu, getLlm } from '../../src/catalog/index.js';
import fc from 'fast-check';
import type { LlmSpec } from '../../src/catalog/types.js';
import {
  allReduceTime,
  decodeStepTime,
  kvBytesPerTokenPerRank,
  matmulParams,
  prefillFlops,
  prefillStepTime,
  StepCost,
  stepOverhead,
  stepTime,
  type Efficiency,
} from '../../src/physics/index.js';

const c = defaultCatalog();
const m70 = getLlm(c, 'deepseek-r1-distill-llama-70b');
const m8 = getLlm(c, 'llama-3.1-8b-instruct');
const h100 = getGpu(c, 'h100-sxm');
const ideal: Efficiency = { prefillCompute: 1, decodeMemory: 1, stepOverheadS: 0, eagerLayerOverheadS: 0 };

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
});

describe('StepCost (an engine\'s step times, worked out once)', () => {
  /**
   * The step roofline restated term by term from the per-token physics (prefillFlops for each chunk, 2 FLOPs per
   * matmul parameter and 4 x width per context token and layer for each decode, weights once, every context's KV
   * once, two all-reduces per layer, the overhead): a reference that shares nothing with StepCost but the primitives.
   */
  function reference(llm: LlmSpec, tp: number, prefill: { tokens: number; cached: number }[], decode: number[], eff: Efficiency, eager: boolean): number {
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
    const allReduceS = 2 * llm.layers * allReduceTime(h100, tp, tokens * llm.hiddenSize * 2);
    return Math.max(computeS, memoryS) + allReduceS + stepOverhead(llm, eff, eager);
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
        fc.boolean(),
        (prefill, decode, tp, eager) => {
          const eff = { ...ideal, stepOverheadS: 0.003, eagerLayerOverheadS: 0.0001 };
          for (const llm of [m8, m70]) {
            const want = reference(llm, tp, prefill, decode, eff, eager);
            expect(new StepCost(llm, h100, tp, eff, eager).seconds({ prefill, decode })).toBe(want);
            expect(stepTime(llm, h100, tp, { prefill, decode }, eff, eager).totalS).toBe(want);
          }
        },
      ),
      { numRuns: 200, seed: 20261121 },
    );
  });
});
