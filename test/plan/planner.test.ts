import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import type { Point } from '../../src/spec/experiment.js';
import { PLAN_FILE, writePlan } from '../../src/plan/output.js';
import { plan, type PlanOptions, type SimulateBatch } from '../../src/plan/planner.js';
import { fixture } from '../experiment/helpers.js';
import { counting, fakeProbe, options, tmp } from './fake-deployment.js';

describe('the planner on a fake deployment whose latency curve is known', () => {
  it('finds each maximum rate within the precision, ranks by goodput per GPU, and gives the verdict', async () => {
    const sim = counting();
    const r = await plan(options(tmp()), sim);
    const p = r.plan;
    // True maxima (0.8 x capacity): 2P + 2D 48 (12 per GPU); 4 x TP1 32 (8); 1P + 3D, 3P + 1D, 1P TP2 + 1D TP2 24 (6);
    // 2 x TP2 16 (4); 1 x TP4 8 (2). The search returns the highest passing rate, within 5% below the truth.
    const truth: Record<string, number> = {
      'disagg-2xtp1-2xtp1': 48,
      'agg-4xtp1': 32,
      'disagg-1xtp1-3xtp1': 24,
      'disagg-3xtp1-1xtp1': 24,
      'disagg-1xtp2-1xtp2': 24,
      'agg-2xtp2': 16,
      'agg-1xtp4': 8,
    };
    expect(p.ranked.map((e) => e.id).sort()).toEqual(Object.keys(truth).sort());
    for (const e of p.ranked) {
      const t = truth[e.id]!;
      expect(e.maxRate).toBeLessThanOrEqual(t);
      expect(e.maxRate).toBeGreaterThan(t / 1.05);
      expect(e.limit.rate!).toBeGreaterThan(t);
      expect(e.limit.rate! / e.maxRate - 1).toBeLessThanOrEqual(0.05);
      expect(e.goodputPerGpu).toBeCloseTo(e.maxRate / 4, 9);
      expect(e.limit.bound).toEqual(['ttft_p95']);
    }
    expect(p.ranked.slice(0, 2).map((e) => e.id)).toEqual(['disagg-2xtp1-2xtp1', 'agg-4xtp1']);
    expect(p.ranked.slice(-2).map((e) => e.id)).toEqual(['agg-2xtp2', 'agg-1xtp4']);
    expect(p.ranked.map((e) => e.rank)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // The verdict: 48 / 32 = 1.5 in truth; each side found within 5% below its truth, so the margin is within
    // (48 / 1.05) / 32 - 1 = 42.9% and 48 / (32 / 1.05) - 1 = 57.5%.
    expect(p.verdict.winner).toBe('disaggregated');
    expect(p.verdict.marginPct!).toBeGreaterThan(42.8);
    expect(p.verdict.marginPct!).toBeLessThan(57.6);
    expect(p.recommended).toEqual({ ...p.ranked[0]!.deployment, maxRate: p.ranked[0]!.maxRate, goodputPerGpu: p.ranked[0]!.goodputPerGpu });
    expect(p.recommended).toMatchObject({ mode: 'disaggregated', prefill: { workers: 2, tp: 1 }, decode: { workers: 2, tp: 1 }, placement: 'same-node' });
  });

  it('prunes the TP pairs the connector rejects, with the reason, and never simulates them', async () => {
    const sim = counting();
    const r = await plan(options(tmp()), sim);
    // equal-tp accepts only equal TPs: 2P TP1 + 1D TP2 and 1P TP2 + 2D TP1 are rejected.
    expect(r.plan.pruned.map((x) => [x.id, x.rule])).toEqual([
      ['disagg-2xtp1-1xtp2', 'connector'],
      ['disagg-1xtp2-2xtp1', 'connector'],
    ]);
    expect(r.plan.pruned[0]!.reason).toMatch(/^connector 'equal-tp' rejects prefill TP1 -> decode TP2: NotImplementedError/);
    const simulated = new Set(sim.calls.flat().map((pt) => pt.id.split('@')[0]));
    expect(simulated.has('disagg-2xtp1-1xtp2')).toBe(false);
    expect(simulated.size).toBe(7);
  });

  it('--gpu-cost prices each configuration: GPUs x price an hour, and that over the output tokens an hour serves', async () => {
    const r = await plan(options(tmp(), { gpuCost: 2.5 }), counting());
    expect(r.plan.inputs.gpuCostUsdPerHour).toEqual({ 'h100-sxm': 2.5 });
    for (const e of r.plan.ranked.filter((x) => x.meetsSlo)) {
      expect(e.costPerHourUsd).toBe(e.gpusUsed * 2.5);
      // $/M tokens = $/h / (tokens/s x 3600) x 1e6.
      expect(e.usdPerMillionOutputTokens!).toBeCloseTo((e.gpusUsed * 2.5 * 1e6) / (e.outputTokensPerSPerGpu * e.gpusUsed * 3600), 2);
    }
    const unpriced = await plan(options(tmp()), counting());
    expect(unpriced.plan.ranked.every((e) => e.costPerHourUsd === null && e.usdPerMillionOutputTokens === null)).toBe(true);
  });

  it('--decode-gpu puts decode on another GPU: its own TP sizes, its node in every probe, its own price', async () => {
    // 70B FP8 on H100 RoCE nodes, decode on H200 (h200-roce, the node carrying it that offers RoCE). TP1 holds the
    // weights on an H200 (141 x 0.9 - 70.6 - 4 = 52.3 GB left for KV) but not on an H100 (-2.6 GB).
    const sim = counting();
    const o = options(tmp(), { model: 'llama-3.1-70b-instruct-fp8', node: 'h100-roce', transport: 'roce-rdma', gpus: 4, connector: 'any-tp', decodeGpu: 'h200-sxm', gpuCost: { 'h100-sxm': 3, 'h200-sxm': 4 } });
    const r = await plan(o, sim);
    expect(r.plan.inputs.roles).toEqual({ decode: { gpu: 'h200-sxm', node: 'h200-roce' } });
    const ids = r.plan.ranked.map((e) => e.id);
    expect(ids).toContain('disagg-1xtp2-2xtp1');
    expect(ids.filter((id) => id.startsWith('agg-')).sort()).toEqual(['agg-1xtp4', 'agg-2xtp2']);
    const probes = sim.calls.flat().filter((pt) => pt.experiment.deployment.mode === 'disaggregated');
    expect(probes.every((pt) => pt.experiment.deployment.decode.node === 'h200-roce' && pt.experiment.deployment.decode.gpu === 'h200-sxm')).toBe(true);
    expect(probes.every((pt) => pt.experiment.deployment.prefill.node === undefined && pt.experiment.deployment.placement === 'cross-node')).toBe(true);
    // 1P TP2 on H100s at $3 + 2D TP1 on H200s at $4: 2 x 3 + 2 x 4 = $14 an hour.
    expect(r.plan.ranked.find((e) => e.id === 'disagg-1xtp2-2xtp1')!.costPerHourUsd).toBe(14);
    await expect(plan({ ...o, gpuCost: { 'h100-sxm': 3 }, out: tmp() }, counting())).rejects.toThrow(/--gpu-cost: no price for h200-sxm/);
    await expect(plan({ ...o, node: 'p5.48xlarge', transport: 'efa-libfabric', out: tmp() }, counting())).rejects.toThrow(
      /--decode-gpu h200-sxm: no node carrying it offers transport 'efa-libfabric' \(.*h200-roce: nvlink, roce-rdma/,
    );
  });

  it('plans a model that does not fit one GPU: the TP sizes whose weights do not fit are left out, with the reason', async () => {
    // Llama-3.1-70B in FP8 at TP1 on an H100: 80 GB x 0.9 = 72.0 GB usable, 70.6e9 x 1 B = 70.6 GB of weights and a
    // 4 GB activation reserve leave -2.6 GB for KV. At TP2, per rank: 72.0 - 35.3 - 4 = 32.7 GB of KV: fits.
    const sim = counting();
    const r = await plan(options(tmp(), { model: 'llama-3.1-70b-instruct-fp8', gpus: 8, connector: 'any-tp' }), sim);
    expect(r.plan.tpSizes.sizes).toEqual([2, 4, 8]);
    expect(r.plan.tpSizes.excluded.map((e) => e.tp)).toEqual([1]);
    expect(r.plan.tpSizes.excluded[0]!.reason).toMatch(/^weights do not fit: .*72\.0 GB usable per GPU, 70\.6 GB of weights per rank/);
    const tps = sim.calls.flat().flatMap((pt) => {
      const d = pt.experiment.deployment;
      return d.mode === 'aggregated' ? [d.aggregated.tp] : [d.prefill.tp, d.decode.tp];
    });
    expect(Math.min(...tps)).toBe(2);
    // Aggregated 4 x TP2, 2 x TP4, 1 x TP8 and the disaggregated ones on TP2/TP4 that fill 8 GPUs.
    expect(r.plan.ranked.filter((e) => e.deployment.mode === 'aggregated').map((e) => e.id).sort()).toEqual(['agg-1xtp8', 'agg-2xtp4', 'agg-4xtp2']);
  });

  it('a model that fits no TP a worker can have on the node is one clear error', async () => {
    // DeepSeek-V3 (671e9 params, FP8: 671 GB) on 8 x 80 GB H100s: 8 x 72 GB = 576 GB usable, less than the weights.
    await expect(plan(options(tmp(), { model: 'deepseek-v3', gpus: 8, connector: 'any-tp' }), counting())).rejects.toThrow(
      /^--model deepseek-v3 does not fit on 'dgx-h100' even at TP8, the widest a worker can have there: /,
    );
  });

  it('sizes each probe to its window: max(--requests, rate x window) measured requests', async () => {
    const sim = counting();
    await plan(options(tmp()), sim);
    // Window: the TTFT bound over the precision, 0.5 s / 0.05 = 10 s. A probe at r req/s measures max(20, ceil(10 r)).
    for (const pt of sim.calls.flat()) {
      const w = pt.experiment.workload;
      expect(w.kind).toBe('poisson');
      expect(w.requests).toBe(Math.max(20, Math.ceil(10 * (w.rate as number))));
      expect(w.warmup).toBe(2);
      expect(w.isl).toEqual({ mean: 500, stddev: 0 });
      expect(pt.experiment.seed).toBe(11);
    }
  });

  it('a rerun reuses every stored probe: nothing simulated, the same plan.json bytes; --fresh simulates again', async () => {
    const out = tmp();
    const first = counting();
    const a = await plan(options(out), first);
    await writePlan(a);
    const bytes = readFileSync(join(out, PLAN_FILE), 'utf8');
    const total = a.probes.total;
    expect(a.probes).toEqual({ total, simulated: total, reused: 0 });

    const second = counting();
    const b = await plan(options(out), second);
    await writePlan(b);
    expect(second.calls).toEqual([]);
    expect(b.probes).toEqual({ total, simulated: 0, reused: total });
    expect(readFileSync(join(out, PLAN_FILE), 'utf8')).toBe(bytes);

    const third = counting();
    const c = await plan(options(out, { fresh: true }), third);
    expect(c.probes.simulated).toBe(total);
  });

  it('a run stopped part-way resumes: the probes it finished are not simulated again', async () => {
    const out = tmp();
    let call = 0;
    const dying: SimulateBatch = async (points) => {
      if (++call === 2) throw new Error('killed');
      return points.map(fakeProbe);
    };
    await expect(plan(options(out), dying)).rejects.toThrow('killed');
    // Round 1 probed each of the 7 searched configurations once; those 7 results are stored.
    expect(readdirSync(join(out, 'probes'))).toHaveLength(7);
    const sim = counting();
    const r = await plan(options(out), sim);
    expect(r.probes.reused).toBe(7);
    expect(r.probes.simulated).toBe(r.probes.total - 7);
  });

  it('stored probes are keyed by what the simulation depends on, not by the SLO', async () => {
    const out = tmp();
    const first = counting();
    await plan(options(out, { windowS: 10 }), first);
    // A tighter SLO searches differently, but every search starts at the same rate (half the physics estimate) with
    // the same window, so the 7 first probes are found in the store.
    const sim = counting();
    const r = await plan(options(out, { windowS: 10, slo: 'ttft_p95_ms<=400' }), sim);
    expect(r.probes.reused).toBeGreaterThanOrEqual(7);
    // Nothing the first plan simulated is simulated again: a key that included the SLO would simulate it all anew.
    const key = (p: Point): string => JSON.stringify(p.experiment);
    const stored = new Set(first.calls.flat().map(key));
    expect(sim.calls.flat().filter((p) => stored.has(key(p)))).toEqual([]);
    expect(r.probes.total - r.probes.reused).toBe(sim.calls.flat().length);
  });
});

describe('the planner refuses bad input before writing anything', () => {
  async function refused(more: Partial<PlanOptions>): Promise<string> {
    const out = join(tmp(), 'never');
    const err = await plan(options(out, more), counting()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect(existsSync(out)).toBe(false);
    return (err as UserError).message;
  }

  it('a swept workload path must be pinned', async () => {
    expect(await refused({ workload: fixture('../plan/swept.yaml') })).toMatch(
      /its sweep varies workload\.isl\.mean; the planner needs one workload: pin it, e\.g\. --set workload\.isl\.mean=4000/,
    );
  });

  it('a transport the node does not offer, a GPU the node does not have, a budget out of range', async () => {
    expect(await refused({ transport: 'efa-libfabric' })).toMatch(/--transport efa-libfabric: node 'dgx-h100' does not offer it/);
    expect(await refused({ gpu: 'a100-80gb' })).toMatch(/--gpu a100-80gb: node 'dgx-h100' has h100-sxm GPUs/);
    expect(await refused({ gpus: 0 })).toMatch(/--gpus must be a whole number from 1 to 64, got '0'/);
    expect(await refused({ slo: 'ttft_p95_ms<=' })).toMatch(/--slo: 'ttft_p95_ms<=': the bound must be a number/);
  });
});
