import { describe, expect, it } from 'vitest';
import { defaultCatalog, getGpu, getLlm } from '../../src/catalog/index.js';
import { allReduceTime, decodeStepTime, prefillFlops, prefillStepTime, type Efficiency } from '../../src/physics/index.js';

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
