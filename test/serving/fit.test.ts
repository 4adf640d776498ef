import { describe, expect, test } from 'vitest';
import { defaultCatalog, getGpu, getLlm } from '../../src/catalog/index.js';
import { UserError } from '../../src/errors.js';
import { PEAK } from '../../src/physics/bounds.js';
import { kvPoolBlocks, type EngineConfig } from '../../src/serving/engine.js';
import { VLLM_ENGINE } from '../helpers/fixtures.js';

const c = defaultCatalog();
const h100 = getGpu(c, 'h100-sxm'); // 80 GB; 0.9 of it = 72.0 GB usable, 4 GB of it kept for activations

function config(model: string, tp: number, over: Partial<EngineConfig['llm']> = {}): EngineConfig {
  return { id: 'w', llm: { ...getLlm(c, model), ...over }, gpu: h100, tp, args: { ...VLLM_ENGINE }, eff: PEAK };
}

function fitError(cfg: EngineConfig): string {
  try {
    kvPoolBlocks(cfg);
  } catch (err) {
    if (err instanceof UserError) return err.message;
    throw err;
  }
  throw new Error('expected the worker not to fit');
}

describe('a worker that does not fit says the TP it would fit at', () => {
  test('70.6B parameters in fp8: 74.6 GB at TP1 (weights + 4 GB) is over 72 GB; at TP2 35.3 + 4 GB leaves room', () => {
    // KV per token per rank at TP2: 2 x 80 layers x 4 KV heads x 128 x 2 B = 163,840 B; a 16-token block 2,621,440 B.
    // (72e9 - 35.3e9 - 4e9) / 2,621,440 = 12,474.0... blocks.
    expect(kvPoolBlocks(config('llama-3.1-70b-instruct-fp8', 2))).toBe(Math.floor((72e9 - 35.3e9 - 4e9) / 2_621_440));
    expect(fitError(config('llama-3.1-70b-instruct-fp8', 1))).toMatch(/no room for a KV block; it fits from TP2$/);
  });

  test('bf16 weights twice as heavy: TP2 (70.6 + 4 GB) is still over, TP4 fits', () => {
    expect(fitError(config('deepseek-r1-distill-llama-70b', 1))).toMatch(/; it fits from TP4$/);
    expect(fitError(config('deepseek-r1-distill-llama-70b', 2))).toMatch(/; it fits from TP4$/);
  });

  test('names the TPs tried when none up to 16 fits', () => {
    // 2,000B fp8 parameters: 125 GB a rank even at TP16.
    expect(fitError(config('llama-3.1-70b-instruct-fp8', 1, { params: 2000e9 }))).toMatch(/; nor does it at TP2, TP4, TP8, TP16$/);
    expect(fitError(config('llama-3.1-70b-instruct-fp8', 4, { params: 2000e9 }))).toMatch(/; nor does it at TP8, TP16$/);
  });

  test('skips the TPs the KV heads cannot be split over', () => {
    // 6 KV heads: TP2 splits them, TP4, TP8 and TP16 do not (not divisors, not multiples).
    expect(fitError(config('llama-3.1-70b-instruct-fp8', 1, { kvHeads: 6, params: 2000e9 }))).toMatch(/; nor does it at TP2$/);
    expect(fitError(config('llama-3.1-70b-instruct-fp8', 2, { kvHeads: 6, params: 2000e9 }))).toMatch(/; and no larger TP splits its KV heads$/);
  });
});
