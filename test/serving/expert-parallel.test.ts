import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/index.js';
import { runPoint } from '../../src/serving/simulate.js';
import type { Deployment } from '../../src/spec/experiment.js';
import { experiment, point } from './helpers.js';

/** DeepSeek-R1 served by DP/EP workers (issue #27), end to end with every invariant checked after every event. */
const c = defaultCatalog();
const r1 = (over: Partial<Deployment> = {}) =>
  experiment({
    deployment: { model: 'deepseek-r1', gpu: 'h200-sxm', node: 'dgx-h200', transport: 'ib-rdma', prefill: { workers: 1, tp: 1, dp: 8, ep: 8 }, decode: { workers: 1, tp: 1, dp: 16, ep: 16 }, ...over },
    workload: { concurrency: 32, requests: 64, isl: { mean: 2000, stddev: 0 }, osl: { mean: 20, stddev: 0 } },
  });

describe('DP attention and EP workers', () => {
  it('a prefill DP8/EP8 node and a decode DP16/EP16 pair of nodes serve every request, books balanced', () => {
    const r = runPoint(point(r1()), c, { checkInvariants: 'every-event' });
    expect(r.result.requests.completed).toBe(64);
    expect(r.result.requests.failed).toBe(0);
    // 32 users at once share 16 decode ranks: the decode step prices their lockstep over 16 GPUs and two nodes.
    expect(r.result.itlMs.mean).toBeGreaterThan(0);
  });

  it("max_num_seqs is each rank's: at 1, the 16 decode ranks still run 16 sequences at once, within the books", () => {
    const engine = { ...r1().deployment.engine, maxNumSeqs: 1 };
    const r = runPoint(point(r1({ engine })), c, { checkInvariants: 'every-event' }).result;
    expect(r.requests.completed).toBe(64);
  });
});
