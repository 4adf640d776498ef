import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/index.js';
import { runPoint } from '../../src/serving/simulate.js';
import type { Workload } from '../../src/spec/experiment.js';
import { experiment, point } from './helpers.js';

/** Conversations and shared prefix prompts in a run (issue #28): what the prefix cache finds, worked by hand. */
const c = defaultCatalog();

/**
 * One client, three-turn conversations on Llama-3.1-8B (16-token blocks, a pool far larger than the run): a 2000-token
 * prefix prompt, 400 new tokens a turn, 100 output tokens a turn, no delay.
 */
function run(mode: 'aggregated' | 'disaggregated', workload: Partial<Workload>) {
  const e = experiment({
    deployment: { mode },
    workload: { isl: { mean: 400, stddev: 0 }, osl: { mean: 100, stddev: 0 }, prefixPrompts: { count: 1, tokens: 2000 }, ...workload },
  });
  return runPoint(point(e), c).result;
}

const threeTurns = { requests: 3, sessions: { turns: { mean: 3, stddev: 0 }, delayS: { mean: 0, stddev: 0 } } };

describe('multi-turn conversations', () => {
  it('aggregated: each turn finds the previous prompt and answer cached, but the answer’s last token', () => {
    // Prompts: 2400, then 2400 + 100 + 400 = 2900, then 2900 + 100 + 400 = 3400 tokens: full blocks 150, 181, 212.
    // A turn leaves cached the full blocks of its prompt and answer but the answer's last token (never computed):
    // floor((2400 + 99) / 16) = 156, then floor((2900 + 99) / 16) = 187. The first turn finds nothing.
    const r = run('aggregated', threeTurns);
    expect(r.requests.completed).toBe(3);
    expect(r.prefixCache).toMatchObject({ promptBlocks: 150 + 181 + 212, gpuHitBlocks: 156 + 187, hostHitBlocks: 0, missedBlocks: 150 + 181 + 212 - 343 });
    expect(r.prefixCache!.hitRate).toBeCloseTo(343 / 543, 6);
  });

  it('disaggregated: the prefill worker never saw the answers, so a turn finds only the previous prompt', () => {
    // The prefill worker computes 2400, 2900, 3400-token prompts; turn 2 finds turn 1's 150 prompt blocks (its next
    // block holds prompt and answer tokens, which the decode worker computed), turn 3 finds turn 2's 181. The decode
    // worker receives each prompt's KV and looks nothing up.
    const r = run('disaggregated', threeTurns);
    expect(r.requests.completed).toBe(3);
    expect(r.prefixCache).toMatchObject({ promptBlocks: 543, gpuHitBlocks: 150 + 181 });
  });

  it('a turn that would not fit the context ends its conversation; requests count turns', () => {
    // Llama-3.1-8B's context is 131,072 tokens. 50,000 new tokens a turn and 1,000 out: turn 2's prompt is
    // 52,000 + 51,000 = 103,000 tokens... turn 1: 2000 + 50,000 = 52,000 + 1,000 out; turn 2: 52,000 + 1,000 + 50,000
    // = 103,000 (+ 1,000 = 104,000, fits); turn 3: 104,000 + 50,000 = 154,000, past it: the conversation ends after 2
    // turns and the client starts a new one. 4 requests: turns 1, 2 of the first conversation, 1, 2 of the second.
    const r = run('aggregated', { requests: 4, isl: { mean: 50_000, stddev: 0 }, osl: { mean: 1000, stddev: 0 }, sessions: { turns: { mean: 3, stddev: 0 }, delayS: { mean: 0, stddev: 0 } } });
    expect(r.requests.completed).toBe(4);
    // Conversation 2 shares only the prefix prompt's 125 full blocks with conversation 1 (2000 / 16).
    // Its turn 2 finds its turn 1's floor((52,000 + 999) / 16) = 3312; conversation 1's turn 2 the same.
    expect(r.prefixCache!.gpuHitBlocks).toBe(3312 + 125 + 3312);
  });

  it('reports the measured requests by turn: counts and mean prompt tokens worked out from the conversation', () => {
    // The 4 requests of the test above: turns 1 and 2 of two conversations. Turn 1 prompts are 2000 + 50,000 = 52,000
    // tokens, turn 2 prompts 52,000 + 1,000 + 50,000 = 103,000; each turn number has 2 completed, none failed.
    const r = run('aggregated', { requests: 4, isl: { mean: 50_000, stddev: 0 }, osl: { mean: 1000, stddev: 0 }, sessions: { turns: { mean: 3, stddev: 0 }, delayS: { mean: 0, stddev: 0 } } });
    expect(r.turns!.map(({ turn, completed, failed, promptTokensMean }) => ({ turn, completed, failed, promptTokensMean }))).toEqual([
      { turn: 1, completed: 2, failed: 0, promptTokensMean: 52_000 },
      { turn: 2, completed: 2, failed: 0, promptTokensMean: 103_000 },
    ]);
    // The turns' TTFTs are the run's, split: their means weighted by the counts give the run's mean.
    expect((r.turns![0]!.ttftMs.mean! * 2 + r.turns![1]!.ttftMs.mean! * 2) / 4).toBeCloseTo(r.ttftMs.mean!, 2);
    // Without sessions there are no turns to report.
    expect(run('aggregated', { requests: 2 }).turns).toBeUndefined();
  });

  it('the delay between turns is the think time: e2e stays, the run stretches by it', () => {
    const fast = run('aggregated', threeTurns);
    const slow = run('aggregated', { ...threeTurns, sessions: { turns: { mean: 3, stddev: 0 }, delayS: { mean: 5, stddev: 0 } } });
    // Two delays of 5 s between three turns of one conversation.
    expect(slow.durationS - fast.durationS).toBeCloseTo(10, 1);
    expect(slow.e2eMs.mean).toBeCloseTo(fast.e2eMs.mean!, 6);
  });
});

describe('shared prefix prompts', () => {
  it('single-turn requests share the prefix prompt’s full blocks, and nothing else', () => {
    // 2000-token prefix: 125 full blocks. Five requests of 2400 tokens (150 full blocks each): the first finds
    // nothing, the other four the prefix's 125 (block 125 holds prefix and own tokens).
    const r = run('aggregated', { requests: 5 });
    expect(r.prefixCache).toMatchObject({ promptBlocks: 5 * 150, gpuHitBlocks: 4 * 125 });
  });

  it('with several prefix prompts, a request finds its own only once one like it has run', () => {
    // 8 prefix prompts, 40 requests: each of the variants drawn runs once cold. Hits are 125 blocks a request whose
    // variant was drawn before: 125 x (40 - distinct variants), and 8 variants over 40 draws are nearly surely all seen.
    const r = run('aggregated', { requests: 40, prefixPrompts: { count: 8, tokens: 2000 } });
    expect(r.prefixCache!.gpuHitBlocks % 125).toBe(0);
    const cold = 40 - r.prefixCache!.gpuHitBlocks / 125;
    expect(cold).toBeGreaterThanOrEqual(1);
    expect(cold).toBeLessThanOrEqual(8);
  });
});
