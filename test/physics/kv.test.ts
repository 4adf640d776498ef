import { describe, expect, it } from 'vitest';
import { defaultCatalog, getLlm } from '../../src/catalog/index.js';
import {
  blocksPerRequest,
  descriptorsPerBlock,
  kvBytesPerToken,
  kvBytesPerTokenPerRank,
  kvHeadsPerRank,
  readPlan,
  targetRanks,
  tpRatio,
} from '../../src/physics/index.js';

const llm = (id: string) => getLlm(defaultCatalog(), id);

describe('KV bytes per token, worked by hand from config.json shapes', () => {
  it.each([
    // 2 (K,V) x layers x kv heads x head dim x 2 bytes (bf16)
    ['deepseek-r1-distill-llama-70b', 2 * 80 * 8 * 128 * 2, 327_680],
    ['llama-3.1-8b-instruct', 2 * 32 * 8 * 128 * 2, 131_072],
    ['llama-3.1-70b-instruct-fp8', 2 * 80 * 8 * 128 * 2, 327_680], // fp8 weights, bf16 KV
    ['qwen3-8b', 2 * 36 * 8 * 128 * 2, 147_456],
    // MLA: layers x (kv_lora_rank 512 + rope 64) x 2 bytes
    ['deepseek-v3', 61 * (512 + 64) * 2, 70_272],
  ])('%s: %i B/token', (id, formula, literal) => {
    expect(formula).toBe(literal);
    expect(kvBytesPerToken(llm(id))).toBe(literal);
  });

  it('the 120k-token 70B request weighs 120,000 x 327,680 = 39,321,600,000 B (39.32 GB)', () => {
    expect(kvBytesPerToken(llm('deepseek-r1-distill-llama-70b')) * 120_000).toBe(39_321_600_000);
  });

  it('8B at ISL 8000 is 8000 x 131,072 = 1,048,576,000 B (1.05 GB)', () => {
    expect(kvBytesPerToken(llm('llama-3.1-8b-instruct')) * 8000).toBe(1_048_576_000);
  });
});

describe('KV per TP rank', () => {
  const m70 = llm('deepseek-r1-distill-llama-70b');
  it('splits the 8 KV heads under GQA: TP1 8, TP2 4, TP4 2, TP8 1', () => {
    expect([1, 2, 4, 8].map((tp) => kvHeadsPerRank(m70, tp))).toEqual([8, 4, 2, 1]);
    expect(kvBytesPerTokenPerRank(m70, 4)).toBe(327_680 / 4);
  });
  it('replicates heads when TP exceeds them: TP16 holds 1 head a rank (each head on 2 ranks)', () => {
    expect(kvHeadsPerRank(m70, 16)).toBe(1);
    expect(kvBytesPerTokenPerRank(m70, 16)).toBe(2 * 80 * 1 * 128 * 2);
  });
  it('rejects a TP that neither divides nor is a multiple of the KV heads', () => {
    expect(() => kvHeadsPerRank(m70, 3)).toThrow(/does not divide the 8 KV heads/);
    expect(() => kvHeadsPerRank(m70, 12)).toThrow(/not a multiple of the 8 KV heads/);
  });
  it('replicates MLA latent KV on every rank', () => {
    const v3 = llm('deepseek-v3');
    expect(kvBytesPerTokenPerRank(v3, 8)).toBe(70_272);
  });
});

describe('blocks, tp_ratio and target ranks (vLLM NixlConnector rules)', () => {
  it('blocks per request round up: 120,000 / 16 = 7500; 2001 / 16 = 125.06 -> 126', () => {
    expect(blocksPerRequest(120_000, 16)).toBe(7500);
    expect(blocksPerRequest(2001, 16)).toBe(126);
  });
  it('tp_ratio is D/P when decode is wider, -(P/D) otherwise', () => {
    expect(tpRatio(1, 4)).toBe(4);
    expect(tpRatio(8, 8)).toBe(1);
    expect(tpRatio(4, 1)).toBe(-4);
    expect(() => tpRatio(3, 4)).toThrow(/not a multiple/);
  });
  it('target ranks: 2 -> 8 reads P rank r // 4; 4 -> 1 reads all four; 8 -> 2 splits into groups of four', () => {
    expect([...Array(8).keys()].map((r) => targetRanks(r, 2, 8))).toEqual([[0], [0], [0], [0], [1], [1], [1], [1]]);
    expect(targetRanks(0, 4, 1)).toEqual([0, 1, 2, 3]);
    expect(targetRanks(1, 8, 2)).toEqual([4, 5, 6, 7]);
    expect(targetRanks(1, 8, 2, true)).toEqual([4]); // MLA: one read
  });
});

describe('read plans', () => {
  const m70 = llm('deepseek-r1-distill-llama-70b');
  it.each([
    [1, 4, 4],
    [4, 1, 4],
    [8, 8, 8],
    [2, 8, 8],
  ])('prefill TP %i -> decode TP %i: %i READs per request', (p, d, reads) => {
    expect(readPlan(m70, 2000, p, d, 16).reads).toBe(reads);
  });

  it('70B, 120k tokens, TP8 -> TP8: 39,321,600,000 B, 4,915,200,000 a rank, 80 x 2 x 7500 = 1.2M descriptors a read', () => {
    const plan = readPlan(m70, 120_000, 8, 8, 16);
    expect(plan.bytesTotal).toBe(39_321_600_000);
    expect(plan.bytesPerDecodeRank).toBe(4_915_200_000);
    expect(plan.blocks).toBe(7500);
    expect(plan.descriptors).toBe(8 * 1_200_000);
  });

  it('4 -> 1: the one decode rank gets all 327,680 B/token in four equal chunks, in whole blocks', () => {
    // 1000 tokens = 62.5 blocks of 16 -> 63 blocks = 1008 token slots; 1008 x 327,680 = 330,301,440 B
    const plan = readPlan(m70, 1000, 4, 1, 16);
    expect(plan.bytesPerDecodeRank).toBe(330_301_440);
    expect(plan.perRead.map((r) => r.bytes)).toEqual([82_575_360, 82_575_360, 82_575_360, 82_575_360]);
    expect(plan.perRead.map((r) => r.prefillRank)).toEqual([0, 1, 2, 3]);
  });

  it('1 -> 4: each decode rank slices its 2 heads out of prefill rank 0', () => {
    // 2000 tokens = 125 blocks exactly; a quarter of 2000 x 327,680 = 163,840,000 B each
    const plan = readPlan(m70, 2000, 1, 4, 16);
    expect(plan.perRead.every((r) => r.prefillRank === 0 && r.bytes === 163_840_000)).toBe(true);
    expect(plan.bytesTotal).toBe(655_360_000);
  });

  it('MLA: one read per decode rank, each of the full replicated latent cache', () => {
    // 1000 tokens in blocks of 64 = 16 blocks = 1024 slots; 1024 x 70,272 = 71,958,528 B
    const plan = readPlan(llm('deepseek-v3'), 1000, 8, 2, 64);
    expect(plan.reads).toBe(2);
    expect(plan.bytesPerDecodeRank).toBe(71_958_528);
    expect(plan.descriptors).toBe(2 * 61 * Math.ceil(1000 / 64)); // one region per layer, 16 blocks
  });
});

describe('descriptors per block by KV layout (vLLM NixlConnector registration)', () => {
  it('Qwen3-0.6B, one 16-token block: 56 descriptors a transfer per-layer, 1 with cross-layer blocks (vLLM PR #30207)', () => {
    // 28 layers of K and V regions: 28 x 2 = 56, the "Desc/transfer" of PR #30207's main branch at input length 16.
    const qwen06 = { ...llm('qwen3-8b'), id: 'qwen3-0.6b', layers: 28 };
    expect(descriptorsPerBlock(qwen06, 'HND', 1, 1, 16)).toBe(56);
    expect(descriptorsPerBlock(qwen06, 'cross-layer', 1, 1, 16)).toBe(1);
    expect(readPlan(qwen06, 16, 1, 1, 16, 'cross-layer').descriptors).toBe(1);
  });

  it('70B (80 layers): HND 160, flashinfer 80, NHD x 16 when TPs differ, MLA 1 a layer', () => {
    const m = llm('deepseek-r1-distill-llama-70b');
    expect(descriptorsPerBlock(m, 'HND', 4, 4, 16)).toBe(160);
    expect(descriptorsPerBlock(m, 'HND', 4, 8, 16)).toBe(160);
    expect(descriptorsPerBlock(m, 'NHD', 4, 4, 16)).toBe(160);
    expect(descriptorsPerBlock(m, 'NHD', 4, 8, 16)).toBe(160 * 16);
    expect(descriptorsPerBlock(m, 'NHD', 8, 4, 64)).toBe(160 * 64);
    expect(descriptorsPerBlock(m, 'flashinfer', 4, 4, 16)).toBe(80);
    expect(descriptorsPerBlock(m, 'flashinfer', 4, 8, 16)).toBe(160);
    expect(descriptorsPerBlock(m, 'cross-layer', 4, 8, 16)).toBe(160);
    // MLA's latent is replicated on every rank: one region a layer, never sliced.
    const v3 = llm('deepseek-v3');
    expect(descriptorsPerBlock(v3, 'NHD', 4, 8, 16)).toBe(61);
    expect(descriptorsPerBlock(v3, 'cross-layer', 4, 8, 16)).toBe(1);
  });
});
