import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultCatalog, getConnector, getGpu, getLlm, getNode, getTransport } from '../../src/catalog/index.js';
import { loadExperiment } from '../../src/experiment/load.js';
import { candidateGpus, candidateId, candidateLabel, dpEpShapes, enumerate, type Shape } from '../../src/plan/enumerate.js';
import { launchScript, loadRecipe, placeWorkers } from '../../src/plan/launch.js';
import { recommendedYaml } from '../../src/plan/output.js';
import { fittingDpEpShapes, plan } from '../../src/plan/planner.js';
import { memoryProblem, pruneCandidate, type PruneContext } from '../../src/plan/prune.js';
import type { DeploymentSection } from '../../src/plan/types.js';
import { kvPoolBlocks } from '../../src/serving/engine.js';
import { defaultEfficiency } from '../../src/physics/index.js';
import { VLLM_ENGINE } from '../helpers/fixtures.js';

const catalog = defaultCatalog();
const r1 = getLlm(catalog, 'deepseek-r1');
const h200 = getGpu(catalog, 'h200-sxm');
const dgxH200 = getNode(catalog, 'dgx-h200');
const dp8: Shape = { tp: 1, dp: 8, ep: 8 };
const dp16: Shape = { tp: 1, dp: 16, ep: 16 };
const engine = { ...VLLM_ENGINE, maxNumSeqs: 1024 };

describe('DP/EP shapes of a MoE model', () => {
  it('tries DP2/4/8 within an 8-GPU node and DP16 over two, only for MoE models on nodes with all-to-all kernels', () => {
    expect(dpEpShapes(r1, dgxH200)).toEqual([{ tp: 1, dp: 2, ep: 2 }, { tp: 1, dp: 4, ep: 4 }, dp8, dp16]);
    expect(dpEpShapes(getLlm(catalog, 'llama-3.1-70b-instruct-fp8'), dgxH200)).toEqual([]);
    expect(dpEpShapes(r1, { ...dgxH200, allToAll: undefined })).toEqual([]);
    // A 4-GPU node: DP8 spans two nodes, DP16 four (left out).
    expect(dpEpShapes(r1, { ...dgxH200, gpusPerNode: 4, nvlinkDomainGpus: 4 }).map((g) => g.dp)).toEqual([2, 4, 8]);
  });

  it("keeps the shapes whose weights fit: DeepSeek-R1 (FP8) on H200s needs 8 GPUs' share of the experts", () => {
    // Weights per GPU: non-routed params + routed / dp; at DP2 and DP4 more than an H200's 126.9 GB usable.
    const c = fittingDpEpShapes(r1, h200, dgxH200, engine);
    expect(c.shapes).toEqual([dp8, dp16]);
    expect(c.excluded.map((x) => x.shape)).toEqual(['DP2/EP2', 'DP4/EP4']);
    expect(c.excluded[0]!.reason).toMatch(/^weights do not fit: .* at TP1 x DP2 \(EP2\) does not fit/);
  });

  it('enumerates DP/EP workers as tp x dp GPUs each: 16 GPUs of TP8, DP8/EP8 and DP16/EP16 give 7 configurations', () => {
    // Aggregated: 2 x TP8, 2 x DP8/EP8, 1 x DP16/EP16. Disaggregated: every (prefill, decode) pair of the 8-GPU shapes,
    // 1P + 1D (16 GPUs, none left): 4; a DP16 worker leaves no room for the other role.
    const list = enumerate(16, [8, dp8, dp16]);
    expect(list.map(candidateId)).toEqual([
      'agg-2xtp8',
      'agg-2xdp8ep8',
      'agg-1xdp16ep16',
      'disagg-1xtp8-1xtp8',
      'disagg-1xtp8-1xdp8ep8',
      'disagg-1xdp8ep8-1xtp8',
      'disagg-1xdp8ep8-1xdp8ep8',
    ]);
    expect(list.map(candidateGpus)).toEqual([16, 16, 16, 16, 16, 16, 16]);
    // 24 GPUs of DP8/EP8 workers: 3 aggregated; 1P + 2D and 2P + 1D (1P + 1D leaves room for another).
    const wide = enumerate(24, [dp8]);
    expect(wide.map(candidateId)).toEqual(['agg-3xdp8ep8', 'disagg-1xdp8ep8-2xdp8ep8', 'disagg-2xdp8ep8-1xdp8ep8']);
    expect(candidateLabel(wide[2]!)).toBe('disaggregated 2P x DP8/EP8 + 1D x DP8/EP8');
    expect(candidateLabel(wide[0]!)).toBe('aggregated 3 x DP8/EP8');
    expect(wide[2]).toEqual({ mode: 'disaggregated', prefill: { workers: 2, ...dp8 }, decode: { workers: 1, ...dp8 } });
  });
});

describe('pruning DP/EP workers', () => {
  const ctx = (over: Partial<PruneContext> = {}): PruneContext => ({
    llm: r1,
    gpu: h200,
    node: dgxH200,
    transport: getTransport(catalog, 'ib-rdma'),
    profile: getConnector(catalog, 'any-tp'),
    engine,
    longest: { isl: 4000, osl: 1000 },
    placement: 'auto',
    catalog,
    ...over,
  });

  it("by the loader's rules: a connector build without DP support prunes disaggregated DP workers, not aggregated ones", () => {
    const eq = ctx({ profile: getConnector(catalog, 'equal-tp') });
    const v = pruneCandidate({ mode: 'disaggregated', prefill: { workers: 1, tp: 8 }, decode: { workers: 1, ...dp8 } }, eq);
    expect(v).toMatchObject({ ok: false, rule: 'parallelism' });
    expect(!v.ok && v.reason).toMatch(/^decode DP8\/EP8: connector profile 'equal-tp' cannot serve workers with data-parallel ranks/);
    expect(pruneCandidate({ mode: 'aggregated', aggregated: { workers: 2, ...dp8 } }, eq)).toEqual({ ok: true });
    expect(pruneCandidate({ mode: 'disaggregated', prefill: { workers: 1, ...dp8 }, decode: { workers: 1, ...dp8 } }, ctx())).toEqual({ ok: true, placement: 'cross-node' });
    // EP on a node without all-to-all kernels.
    const bare = pruneCandidate({ mode: 'aggregated', aggregated: { workers: 1, ...dp8 } }, ctx({ node: { ...dgxH200, allToAll: undefined } }));
    expect(bare).toMatchObject({ ok: false, rule: 'parallelism' });
    expect(!bare.ok && bare.reason).toMatch(/names no expert-parallel all-to-all kernels/);
  });

  it("by memory: the longest request must fit one DP rank's pool, not the worker's dp pools together", () => {
    const perRank = kvPoolBlocks({ id: 't', llm: r1, gpu: h200, tp: 1, args: engine, eff: defaultEfficiency(h200), parallel: { dp: 8, ep: 8 } }) / 8;
    expect(Number.isInteger(perRank)).toBe(true);
    const fits = ctx({ longest: { isl: perRank * engine.blockSize - 1000, osl: 1000 } });
    expect(memoryProblem(fits, 'decode', { workers: 1, ...dp8 })).toBeUndefined();
    const over = ctx({ longest: { isl: perRank * engine.blockSize - 1000, osl: 1001 } });
    expect(memoryProblem(over, 'decode', { workers: 1, ...dp8 })).toMatch(/^KV does not fit: a DP8\/EP8 decode worker keeps .* of KV per GPU of each DP rank/);
    // The prefill worker holds only the prompt.
    expect(memoryProblem(over, 'prefill', { workers: 1, ...dp8 })).toBeUndefined();
  });
});

describe('launch.sh for DP/EP workers', () => {
  const base = { model: 'deepseek-r1', gpu: 'h200-sxm', node: 'dgx-h200', connector: 'any-tp', transport: 'ib-rdma' };

  it('places a worker on tp x dp GPUs, its ranks on side-channel ports of their own; DP16 spans two nodes', () => {
    const d: DeploymentSection = { mode: 'disaggregated', ...base, prefill: { workers: 1, tp: 1, dp: 4, ep: 4 }, decode: { workers: 1, tp: 1, dp: 4, ep: 4 }, placement: 'same-node' };
    expect(placeWorkers(d, 8).map((w) => [w.role, w.node, w.gpus.join(','), w.slot, w.portSlot])).toEqual([
      ['prefill', 'node-1', '0,1,2,3', 0, 0],
      ['decode', 'node-1', '4,5,6,7', 1, 4],
    ]);
    const a: DeploymentSection = { mode: 'aggregated', ...base, aggregated: { workers: 1, ...dp16 } };
    expect(placeWorkers(a, 8).map((w) => [w.node, w.gpus.length])).toEqual([['node-1..node-2', 0]]);
  });

  it("gives vLLM's --data-parallel-size and --enable-expert-parallel", () => {
    const d: DeploymentSection = { mode: 'disaggregated', ...base, prefill: { workers: 2, ...dp8 }, decode: { workers: 1, ...dp16 }, placement: 'cross-node' };
    const s = launchScript(loadRecipe(), { deployment: d, router: 'kv-aware', engine, llm: r1, node: dgxH200, transport: getTransport(catalog, 'ib-rdma'), title: 't' });
    expect(s.match(/--data-parallel-size 8 \\/g)).toHaveLength(2);
    expect(s.match(/--data-parallel-size 16 \\/g)).toHaveLength(1);
    expect(s.match(/--enable-expert-parallel \\/g)).toHaveLength(3);
    expect(s).toContain('# Prefill worker 2 of 2 (DP8/EP8): node-2 (dgx-h200), GPUs 0,1,2,3,4,5,6,7');
    expect(s).toContain('# Decode worker 1 of 1 (DP16/EP16): node-3..node-4 (dgx-h200; DP16/EP16 across nodes: vLLM\'s multi-node data-parallel launch, this command on the first node with --data-parallel-size-local 8');
  });
});

describe('plan for DeepSeek-R1 on 16 H200s', () => {
  it('enumerates and ranks DP/EP shapes; recommended.yaml validates with dp and ep', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-moe-plan-'));
    const r = await plan({
      model: 'deepseek-r1',
      node: 'dgx-h200',
      transport: 'ib-rdma',
      gpus: 16,
      workload: 'experiments/plan/chat-poisson.yaml',
      set: ['workload.osl.mean=100'],
      slo: 'ttft_p95_ms<=3000,itl_p95_ms<=60',
      requests: 50,
      warmup: 10,
      precision: 0.2,
      workers: 1,
      out: dir,
      fresh: true,
    });
    const p = r.plan;
    expect(p.dpEpShapes?.shapes).toEqual(['DP8/EP8', 'DP16/EP16']);
    expect(p.pruned).toEqual([]);
    expect(p.ranked.map((e) => e.id).sort()).toEqual(
      ['agg-2xtp8', 'agg-2xdp8ep8', 'agg-1xdp16ep16', 'disagg-1xtp8-1xtp8', 'disagg-1xtp8-1xdp8ep8', 'disagg-1xdp8ep8-1xtp8', 'disagg-1xdp8ep8-1xdp8ep8'].sort(),
    );
    for (const e of p.ranked) expect(e.maxRate).toBeGreaterThan(0); // every shape was simulated and met the SLO somewhere
    // Ranked by goodput per GPU, DP/EP and TP shapes together.
    const g = p.ranked.map((e) => e.goodputPerGpu);
    expect(g).toEqual([...g].sort((a, b) => b - a));
    expect(p.recommended).not.toBeNull();
    const yaml = recommendedYaml(p, r.recommendedPoint, dir)!;
    const file = join(dir, 'recommended.yaml');
    writeFileSync(file, yaml);
    const exp = loadExperiment(file, { catalog }).experiment;
    const rec = p.recommended!;
    for (const role of ['aggregated', 'prefill', 'decode'] as const) {
      const want = rec[role];
      if (want) expect(exp.deployment[role]).toMatchObject({ workers: want.workers, tp: want.tp, ...(want.dp ? { dp: want.dp, ep: want.ep } : {}) });
    }
    // The recommendation uses DP/EP workers, and launch.sh starts them so.
    expect(JSON.stringify(rec)).toMatch(/"dp":8/);
    expect(r.launch).toContain('--enable-expert-parallel');
  });
});
