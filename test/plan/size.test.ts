import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Point } from '../../src/spec/experiment.js';
import { usdPerMillionTokens } from '../../src/plan/cost.js';
import { gpuPrices } from '../../src/cli/commands/plan.js';
import { enumerateUpTo, loadVerdict, planForLoad } from '../../src/plan/size.js';
import { writeLoadPlan } from '../../src/plan/size-report.js';
import { counting, options, tmp } from './fake-deployment.js';

describe('every configuration up to a GPU count', () => {
  it('counts the shapes by hand', () => {
    // 4 GPUs, TP 1 and 2. Aggregated: 1-4 x TP1, 1-2 x TP2 = 6. Disaggregated, P x pTP + D x dTP <= 4:
    // TP1/TP1 (P, D) in {1,2,3} with P + D <= 4: 6; TP1/TP2: P + 2D <= 4: (1,1), (2,1): 2; TP2/TP1: (1,1), (1,2): 2;
    // TP2/TP2: (1,1): 1. 17 in all.
    const all = enumerateUpTo(4, [1, 2]);
    expect(all.filter((c) => c.mode === 'aggregated')).toHaveLength(6);
    expect(all.filter((c) => c.mode === 'disaggregated')).toHaveLength(11);
  });
});

describe('cost', () => {
  it('per hour and per million output tokens', () => {
    // 10 GPUs at $3.50: $35 an hour. At 1000 output tokens/s an hour serves 3.6 M tokens: 35 / 3.6 = $9.72 per M.
    expect(usdPerMillionTokens(35, 1000)).toBeCloseTo(9.7222, 4);
    expect(usdPerMillionTokens(null, 1000)).toBeNull();
    expect(usdPerMillionTokens(35, 0)).toBeNull();
    // --gpu-cost: one price, or one a GPU.
    expect(gpuPrices('3.5')).toBe(3.5);
    expect(gpuPrices('h100-sxm=3.5, h200-sxm=4.2')).toEqual({ 'h100-sxm': 3.5, 'h200-sxm': 4.2 });
    expect(() => gpuPrices('h100-sxm=3.5,h100-sxm=4')).toThrow(/h100-sxm is priced twice/);
    expect(() => gpuPrices('h100-sxm=free')).toThrow(/--gpu-cost h100-sxm must be a number > 0/);
  });
});

describe('plan --rate: the fewest GPUs that meet the SLO at a load', () => {
  it('probes cheapest first and stops each mode at its first pass; the verdict says what disaggregation saves', async () => {
    // At 22 req/s: aggregated needs 0.8 x 10 x W >= 22, W = 3 (3 GPUs at TP1); disaggregated 0.8 x 30 x min(P, D)
    // >= 22, P = D = 1 (2 GPUs). So disaggregated with one GPU fewer; and nothing of 1 GPU (aggregated 1 x TP1:
    // 8 req/s) passes.
    const sim = counting();
    const out = tmp();
    const r = await planForLoad(options(out, { rate: 22, gpuCost: 2 }), sim);
    const p = r.plan;
    expect(p.question).toBe('load');
    expect(p.verdict.winner).toBe('disaggregated');
    expect(p.verdict.disaggregated).toMatchObject({ id: 'disagg-1xtp1-1xtp1', gpusUsed: 2, costPerHourUsd: 4 });
    expect(p.verdict.aggregated).toMatchObject({ id: 'agg-3xtp1', gpusUsed: 3, costPerHourUsd: 6 });
    expect(p.verdict.text).toBe(
      'Disaggregated serving meets the SLO at 22 req/s with $2.00/h less: disaggregated 1P x TP1 + 1D x TP1 (2 GPUs, $4.00/h) against aggregated 3 x TP1 (3 GPUs, $6.00/h).',
    );
    expect(p.recommended).toMatchObject({ mode: 'disaggregated', id: 'disagg-1xtp1-1xtp1', gpusUsed: 2 });
    // Every probe at 22 req/s, GPUs never decreasing from one batch to the next, and nothing beyond 3 GPUs.
    const gpusOf = (pt: Point) => {
      const d = pt.experiment.deployment;
      return d.mode === 'aggregated' ? d.aggregated.workers * d.aggregated.tp : d.prefill.workers * d.prefill.tp + d.decode.workers * d.decode.tp;
    };
    expect(sim.calls.flat().every((pt) => pt.experiment.workload.rate === 22)).toBe(true);
    expect(sim.calls.map((b) => Math.max(...b.map(gpusOf)))).toEqual([1, 2, 3]);
    // SLO use of the disaggregated answer: TTFT 100 / (1 - 22/30) = 375 ms of 500: 75%.
    expect(p.checked.find((e) => e.id === 'disagg-1xtp1-1xtp1')!.sloUse).toBeCloseTo(0.75, 4);
    // A price per token only where the load is served within the SLO.
    expect(p.checked.filter((e) => !e.meetsSlo).map((e) => e.usdPerMillionOutputTokens)).toEqual(p.checked.filter((e) => !e.meetsSlo).map(() => null));
    expect(p.checked.filter((e) => e.meetsSlo).every((e) => e.usdPerMillionOutputTokens! > 0)).toBe(true);

    const files = await writeLoadPlan(r);
    const rec = readFileSync(files.recommended!, 'utf8');
    expect(rec).toMatch(/prefill:\n {4}workers: 1\n {4}tp: 1/);
    expect(rec).toMatch(/rate: 22\n/);
    expect(JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')).question).toBe('load');
    // launch.sh deploys the same configuration: one prefill and one decode worker of TP1.
    const sh = readFileSync(join(out, 'launch.sh'), 'utf8');
    expect([sh.match(/--disaggregation-mode prefill/g)?.length, sh.match(/--disaggregation-mode decode/g)?.length]).toEqual([1, 1]);
  });

  it("--rate workload takes a Poisson file's own rate, and refuses closed-loop traffic", async () => {
    const dir = tmp();
    const file = join(dir, 'poisson.yaml');
    writeFileSync(
      file,
      'name: p\nseed: 1\ndeployment: { mode: aggregated, model: llama-3.1-8b-instruct, node: dgx-h100, connector: any-tp, transport: ib-rdma }\n' +
        'workload: { kind: poisson, rate: 7, requests: 20, isl: { mean: 500, stddev: 0 }, osl: { mean: 10, stddev: 0 } }\n',
    );
    const r = await planForLoad(options(join(dir, 'out'), { workload: file, rate: 'workload' }), counting());
    expect(r.plan.inputs).toMatchObject({ rate: 7, rateSource: 'workload' });
    // 0.8 x 10 = 8 >= 7: one aggregated TP1 worker, one GPU; disaggregated needs two.
    expect(r.plan.verdict).toMatchObject({ winner: 'aggregated', aggregated: { gpusUsed: 1 }, disaggregated: { gpusUsed: 2 } });
    await expect(planForLoad(options(tmp(), { rate: 'workload' }), counting())).rejects.toThrow(/^--rate workload: --workload .* has no rate of its own \(closed-loop traffic\)/);
  });

  it('a load nothing within the budget meets is said so, and nothing is recommended', async () => {
    // 4 GPUs: aggregated at most 0.8 x 40 = 32 req/s, disaggregated 0.8 x 30 x 2 = 48; at 100 req/s neither.
    const r = await planForLoad(options(tmp(), { rate: 100 }), counting());
    expect(r.plan.recommended).toBeNull();
    expect(r.plan.verdict).toMatchObject({ winner: 'none', text: 'Nothing of up to 4 GPUs meets the SLO at 100 req/s.' });
  });
});

describe('the load verdict', () => {
  it('compares GPUs without a price, dollars with one; equal is a tie', () => {
    const a = { id: 'a', label: 'aggregated 4 x TP1', gpusUsed: 4, costPerHourUsd: null };
    const d = { id: 'd', label: 'disaggregated 1P x TP1 + 2D x TP1', gpusUsed: 3, costPerHourUsd: null };
    expect(loadVerdict(a, d, 5, 8).text).toBe(
      'Disaggregated serving meets the SLO at 5 req/s with 1 fewer GPUs: disaggregated 1P x TP1 + 2D x TP1 (3 GPUs) against aggregated 4 x TP1 (4 GPUs).',
    );
    expect(loadVerdict(a, { ...d, gpusUsed: 4 }, 5, 8).winner).toBe('tie');
    expect(loadVerdict(null, d, 5, 8).text).toBe('Only disaggregated serving meets the SLO at 5 req/s within 8 GPUs: disaggregated 1P x TP1 + 2D x TP1 (3 GPUs); no aggregated configuration does.');
  });
});
