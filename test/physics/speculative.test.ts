import { describe, expect, it } from 'vitest';
import { defaultCatalog, getGpu, getLlm } from '../../src/catalog/index.js';
import {
  acceptedDrafts,
  DraftCost,
  draftModel,
  conditionalAcceptance,
  expectedTokensPerStep,
  expectedTokensPerStepByPosition,
  PEAK,
  resolveSpeculative,
  StepCost,
  stepTime,
  type StepWork,
} from '../../src/physics/index.js';

/** Speculative decoding (issue #27): vLLM --speculative-config, MTP on DeepSeek, EAGLE, n-gram. */
const c = defaultCatalog();
const r1 = getLlm(c, 'deepseek-r1');
const v3 = getLlm(c, 'deepseek-v3');
const m8 = getLlm(c, 'llama-3.1-8b-instruct');
const h100 = getGpu(c, 'h100-sxm');
const h200 = getGpu(c, 'h200-sxm');

describe('tokens a step emits', () => {
  it('k drafts each accepted with a given the ones before: (1 - a^(k+1)) / (1 - a)', () => {
    // k = 1: the own token plus the one draft 85% of the time.
    expect(expectedTokensPerStep(0.85, 1)).toBeCloseTo(1.85, 12);
    // k = 3: 1 + 0.85 + 0.7225 + 0.614125.
    expect(expectedTokensPerStep(0.85, 3)).toBeCloseTo(3.186625, 12);
  });

  it('counts the leading accepted drafts and stops at the first rejection', () => {
    const draws = (u: number[]) => {
      let i = 0;
      return () => u[i++]!;
    };
    const a = [0.85, 0.85, 0.85];
    expect(acceptedDrafts(3, a, draws([0.1, 0.84, 0.86, 0.1]))).toBe(2);
    expect(acceptedDrafts(3, a, draws([0.9, 0.1, 0.1]))).toBe(0);
    expect(acceptedDrafts(2, a, draws([0.1, 0.1, 0.1]))).toBe(2); // never more than the drafts
    // Per position: draft 1 is accepted below 0.5 only.
    expect(acceptedDrafts(3, [0.9, 0.5, 0.9], draws([0.8, 0.6, 0.1]))).toBe(1);
  });

  it("vLLM's per-position rates become conditional ones: EAGLE-3 on Llama-3.1-8B, MT-bench (vllm-project/vllm#26191)", () => {
    // 'acceptance at token i' is the share of drafts whose position i was accepted: 0.74, 0.54, 0.41. Position 1 is
    // accepted given position 0 was 0.54 / 0.74 = 0.72973, position 2 given 1: 0.41 / 0.54 = 0.75926.
    const a = conditionalAcceptance([0.74, 0.54, 0.41], 'x');
    expect(a[0]).toBe(0.74);
    expect(a[1]).toBeCloseTo(0.729730, 6);
    expect(a[2]).toBeCloseTo(0.759259, 6);
    // The mean acceptance length with k = 7: 1 + 0.74 + 0.54 + 0.41 + 0.31 + 0.23 + 0.17 + 0.13 = 3.53.
    const all = conditionalAcceptance([0.74, 0.54, 0.41, 0.31, 0.23, 0.17, 0.13], 'x');
    expect(expectedTokensPerStepByPosition(all)).toBeCloseTo(3.53, 12);
    // One rate at every position gives the closed form.
    expect(expectedTokensPerStepByPosition([0.85, 0.85, 0.85])).toBeCloseTo(expectedTokensPerStep(0.85, 3), 12);
  });

  it('rejects rates that rise with the position, or leave (0, 1)', () => {
    expect(() => conditionalAcceptance([0.5, 0.6], 'acceptanceByPosition')).toThrow(/acceptanceByPosition\[1\] = 0.6 is above position 0's 0.5/);
    expect(() => conditionalAcceptance([0.5, 0], 'acceptanceByPosition')).toThrow(/\[1\] = 0: expected a rate > 0 and < 1/);
  });
});

describe('resolving the knob against the model record', () => {
  it("MTP on DeepSeek takes the record's sourced figures: acceptance 0.85 (DeepSeek-V3 report 5.4.3), one MTP layer", () => {
    expect(resolveSpeculative(r1, { method: 'mtp', numSpeculativeTokens: 1 })).toEqual({ method: 'mtp', k: 1, acceptance: [0.85], draftLayers: 1 });
    expect(resolveSpeculative(v3, { method: 'deepseek_mtp', numSpeculativeTokens: 2 })).toEqual({ method: 'deepseek_mtp', k: 2, acceptance: [0.85, 0.85], draftLayers: 1 });
    expect(resolveSpeculative(r1, { method: 'mtp', numSpeculativeTokens: 1, acceptanceRate: 0.7 }).acceptance).toEqual([0.7]);
  });

  it('MTP on a model without an MTP module, EAGLE without a head, n-gram without a rate: errors naming the field', () => {
    expect(() => resolveSpeculative(m8, { method: 'mtp', numSpeculativeTokens: 1 })).toThrow(/model 'llama-3\.1-8b-instruct' ships no multi-token-prediction module/);
    expect(() => resolveSpeculative(r1, { method: 'eagle3', numSpeculativeTokens: 1 })).toThrow(/has no eagle3 draft head .* it has: mtp/);
    expect(() => resolveSpeculative(m8, { method: 'ngram', numSpeculativeTokens: 3 })).toThrow(/no acceptance rate: give acceptanceRate/);
    expect(resolveSpeculative(m8, { method: 'ngram', numSpeculativeTokens: 3, acceptanceRate: 0.6 })).toEqual({ method: 'ngram', k: 3, acceptance: [0.6, 0.6, 0.6], draftLayers: 0 });
  });
});

describe('the verification pass: k + 1 query tokens a sequence', () => {
  const contexts = new Array<number>(64).fill(1000);

  it('doubles the matmul and attention FLOPs at k = 1, reads the weights and KV once', () => {
    const one = stepTime(m8, h100, 1, { prefill: [], decode: contexts }, PEAK);
    const two = stepTime(m8, h100, 1, { prefill: [], decode: contexts, decodeQueries: new Array<number>(64).fill(2) }, PEAK);
    expect(two.computeS).toBeCloseTo(2 * one.computeS, 15);
    expect(two.memoryS).toBe(one.memoryS);
    // Memory-bound either way: 16.06 GB + 64 x 1000 x 131,072 B over 3.35 TB/s = 7.30 ms.
    expect(two.totalS).toBe(one.totalS);
    expect(two.totalS).toBeCloseTo((16.06e9 + 64_000 * 131_072) / 3.35e12, 9);
  });

  it('replays one full CUDA graph while its tokens fit the captured size (counted in tokens)', () => {
    const mode = (batch: number) =>
      stepTime(m8, h100, 1, { prefill: [], decode: new Array<number>(batch).fill(100), decodeQueries: new Array<number>(batch).fill(2) }, PEAK, { enforceEager: false, maxCaptureSize: 512, connector: false }).mode;
    expect(mode(256)).toBe('full'); // 512 tokens
    expect(mode(257)).toBe('piecewise'); // 514
  });

  it('absent decodeQueries is the one-token decode, to the last bit', () => {
    const work: StepWork = { prefill: [{ tokens: 300, cached: 100 }], decode: [500, 700] };
    const cost = new StepCost(m8, h100, 1);
    expect(cost.seconds({ ...work, decodeQueries: [1, 1] })).toBe(cost.seconds(work));
  });
});

describe("the draft's passes", () => {
  it("DeepSeek's MTP draft: one of its average layers plus the shared embedding and head", () => {
    const d = draftModel(v3, 1);
    const head = 2 * 129_280 * 7168; // 1,853,358,080
    expect(d.layers).toBe(1);
    expect(d.params).toBeCloseTo((671e9 - head) / 61 + head, 0); // 12.82e9
    expect(d.activeParams).toBeCloseTo((37e9 - head) / 61 + head, 0); // 2.43e9
    expect(d.moe).toEqual({ ...v3.moe, firstDenseLayers: 0 });
    expect(d.kvHeads).toBe(1);
    expect(d.headDim).toBe(576);
  });

  it('run once over the step and k - 1 times more over the decodes, one after another', () => {
    const seen: StepWork[] = [];
    const fake = { seconds: (w: StepWork) => (seen.push({ ...w }), 1 + 10 * w.prefill.length) };
    const work: StepWork = { prefill: [{ tokens: 50, cached: 0 }], decode: [10, 20], decodeQueries: [4, 4] };
    expect(new DraftCost(fake, 3).seconds(work)).toBe(11 + 2 * 1);
    expect(seen.map((w) => w.prefill.length)).toEqual([1, 0]);
    expect(seen[1]!.decode).toEqual([10, 20]);
    expect(new DraftCost(null, 3).seconds(work)).toBe(0); // n-gram: no GPU work
  });

  it('MTP k = 1 on a memory-bound DeepSeek decode: the draft adds 1.9%, so ITL falls by 1.85 / 1.019 = 1.82x', () => {
    // Batch 64 at context 1000, one H200, every efficiency 1: both passes are weight- and KV-read bound.
    // Target: 671e9 B of FP8 weights + 64,000 tokens x 61 x 576 x 2 B = 4.497 GB of latent KV.
    // Draft: (671e9 - head) / 61 + head = 12.823e9 B + 64,000 x 1 x 576 x 2 B.
    const contexts = new Array<number>(64).fill(1000);
    const verify = stepTime(v3, h200, 1, { prefill: [], decode: contexts, decodeQueries: new Array<number>(64).fill(2) }, PEAK);
    const plain = stepTime(v3, h200, 1, { prefill: [], decode: contexts }, PEAK);
    expect(verify.totalS).toBe(plain.totalS);
    expect(verify.computeS).toBeLessThan(verify.memoryS / 10);
    const draft = new DraftCost(new StepCost(draftModel(v3, 1), h200, 1, PEAK), 1).seconds({ prefill: [], decode: contexts, decodeQueries: new Array<number>(64).fill(2) });
    const head = 2 * 129_280 * 7168;
    const share = ((671e9 - head) / 61 + head + 64_000 * 1152) / (671e9 + 64_000 * 70_272);
    expect(draft / plain.totalS).toBeCloseTo(share, 9);
    expect(share).toBeCloseTo(0.01909, 4);
    expect(1.85 / (1 + share)).toBeCloseTo(1.8153, 3);
  });
});
