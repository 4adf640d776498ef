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

  it("each DP rank is its own NIXL engine on its own GPU's NIC share; requests' KV goes round its ranks", () => {
    // 64 requests of 2000 tokens: 8 a prefill rank, 4 a decode rank. MLA KV a request: 125 blocks x 16 tokens x
    // 70,272 B = 140,544,000 B, read in one READ from one prefill rank's GPU to one decode rank's.
    const r = runPoint(point(r1()), c).result;
    const links = r.utilisation.links;
    const prefill = Array.from({ length: 8 }, (_, i) => links[`prefill-0.dp${i}.rank0.nic`]!);
    const decode = Array.from({ length: 16 }, (_, i) => links[`decode-0.dp${i}.rank0.nic`]!);
    expect(Object.keys(links).length).toBe(8 + 16);
    // Each link moves the same bytes: 8 requests a prefill rank, 4 a decode rank, so twice the bytes on a prefill link.
    for (const u of prefill) expect(u).toBe(prefill[0]);
    for (const u of decode) expect(u).toBe(decode[0]);
    expect(prefill[0]! / decode[0]!).toBeCloseTo(2, 1);
    // A DGX H200's 8 NICs over its 8 GPUs: one rail a rank (not UCX's two a rank, which 8 ranks cannot all have).
    // Bytes over capacity x window: 8 x 140,544,000 B at 35 GB/s (ib-rdma typical) over the run.
    // (summary.json rounds utilisation to 4 places: ~2% of this one.)
    expect(prefill[0]! / ((8 * 140_544_000) / 35e9 / r.durationS)).toBeCloseTo(1, 1);
  });

  it('a prefill worker restart takes every rank with it; the books stay balanced', () => {
    const e = { ...point(r1()).experiment, faults: [{ kind: 'worker_restart' as const, at: [0.5], downtimeS: 1, target: 'prefill-0' }] };
    const r = runPoint(point(e), c, { checkInvariants: 'every-event' }).result;
    expect(r.requests.completed + r.requests.failed).toBe(64);
    expect(r.requests.failed).toBeGreaterThan(0);
  });
});
