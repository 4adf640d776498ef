import { describe, expect, it } from 'vitest';
import { defaultCatalog, getConnector, getGpu, getLlm, getNode, getTransport } from '../../src/catalog/index.js';
import type { EngineArgs } from '../../src/spec/experiment.js';
import type { Candidate } from '../../src/plan/enumerate.js';
import { pruneCandidate, type PlacementChoice, type PruneContext } from '../../src/plan/prune.js';
import { VLLM_ENGINE } from '../helpers/fixtures.js';

const catalog = defaultCatalog();

function ctx(o: { model?: string; node?: string; transport?: string; connector?: string; placement?: PlacementChoice; engine?: Partial<EngineArgs>; longest?: { isl: number; osl: number } } = {}): PruneContext {
  const node = getNode(catalog, o.node ?? 'p5.48xlarge');
  return {
    llm: getLlm(catalog, o.model ?? 'llama-3.1-8b-instruct'),
    gpu: getGpu(catalog, node.gpu),
    node,
    transport: getTransport(catalog, o.transport ?? 'efa-libfabric'),
    profile: getConnector(catalog, o.connector ?? 'any-tp'),
    engine: { ...VLLM_ENGINE, ...o.engine },
    longest: o.longest ?? { isl: 8000, osl: 50 },
    placement: o.placement ?? 'auto',
  };
}

const agg = (workers: number, tp: number): Candidate => ({ mode: 'aggregated', aggregated: { workers, tp } });
const dis = (p: number, pTp: number, d: number, dTp: number): Candidate => ({ mode: 'disaggregated', prefill: { workers: p, tp: pTp }, decode: { workers: d, tp: dTp } });

describe('pruning: the connector profile', () => {
  it('equal-tp rejects prefill TP1 -> decode TP2 (NotImplementedError), and accepts equal TPs', () => {
    const v = pruneCandidate(dis(2, 1, 3, 2), ctx({ connector: 'equal-tp' }));
    expect(v).toMatchObject({ ok: false, rule: 'connector' });
    expect(!v.ok && v.reason).toMatch(/^connector 'equal-tp' rejects prefill TP1 -> decode TP2: NotImplementedError/);
    expect(pruneCandidate(dis(4, 1, 4, 1), ctx({ connector: 'equal-tp' })).ok).toBe(true);
  });

  it("decode-wider-tp crashes on a wider prefill (seed 003's KeyError at the first transfer)", () => {
    const v = pruneCandidate(dis(3, 2, 2, 1), ctx({ connector: 'decode-wider-tp' }));
    expect(v).toMatchObject({ ok: false, rule: 'connector' });
    expect(!v.ok && v.reason).toMatch(/^connector 'decode-wider-tp' crashes on prefill TP2 -> decode TP1 \(at the first KV transfer\): .*KeyError/);
    expect(pruneCandidate(dis(2, 1, 3, 2), ctx({ connector: 'decode-wider-tp' })).ok).toBe(true);
  });

  it('aggregated configurations move no KV: no connector or placement rule applies', () => {
    expect(pruneCandidate(agg(8, 1), ctx({ connector: 'equal-tp', transport: 'nvlink', node: 'dgx-h100' }))).toEqual({ ok: true });
  });
});

describe('pruning: placement', () => {
  it('EFA fails within a node (fi_read EAGAIN), so even a budget of one node goes cross-node, as seed 002 deployed', () => {
    expect(pruneCandidate(dis(1, 1, 1, 1), ctx())).toEqual({ ok: true, placement: 'cross-node' });
  });

  it('InfiniBand works within a node: same-node while the configuration fits one node, cross-node beyond', () => {
    const ib = ctx({ node: 'dgx-h100', transport: 'ib-rdma' });
    expect(pruneCandidate(dis(4, 1, 4, 1), ib)).toEqual({ ok: true, placement: 'same-node' });
    expect(pruneCandidate(dis(8, 1, 8, 1), ib)).toEqual({ ok: true, placement: 'cross-node' });
  });

  it('NVLink cannot connect two pods: every disaggregated configuration is pruned, saying why for each placement', () => {
    const v = pruneCandidate(dis(1, 1, 1, 1), ctx({ node: 'dgx-h100', transport: 'nvlink' }));
    expect(v).toMatchObject({ ok: false, rule: 'placement' });
    expect(!v.ok && v.reason).toMatch(/^transport 'nvlink' is not available between workers placed same-node: .*; transport 'nvlink' is not available between workers placed cross-node: .*never intra-pod/);
  });

  it('a pinned placement is taken as given: EFA same-node is pruned, and same-node needs the GPUs on one node', () => {
    const v = pruneCandidate(dis(1, 1, 1, 1), ctx({ placement: 'same-node' }));
    expect(v).toMatchObject({ ok: false, rule: 'placement' });
    expect(!v.ok && v.reason).toMatch(/^transport 'efa-libfabric' sets up but fails between workers placed same-node: /);
    const big = pruneCandidate(dis(8, 1, 8, 1), ctx({ node: 'dgx-h100', transport: 'ib-rdma', placement: 'same-node' }));
    expect(!big.ok && big.reason).toBe("placement same-node needs all 16 GPUs on one node, and 'dgx-h100' has 8");
  });
});

describe('pruning: multi-node NVLink stays in its domain', () => {
  it('mnnvl on DGX H100: one node is its NVLink domain, so 16 GPUs (cross-node) are pruned; 8 fit on one node', () => {
    const c = ctx({ node: 'dgx-h100', transport: 'mnnvl' });
    const v = pruneCandidate(dis(8, 1, 8, 1), c);
    expect(v).toMatchObject({ ok: false, rule: 'placement' });
    expect(!v.ok && v.reason).toMatch(/NVLink domain is the node itself \(8 GPUs\)/);
    expect(pruneCandidate(dis(4, 1, 4, 1), c)).toMatchObject({ ok: true, placement: 'same-node' });
  });

  it('mnnvl on GB200 NVL72 trays: prefill and decode on different trays of one 72-GPU domain', () => {
    // A tray has 4 GPUs: 4 + 4 GPUs cannot share one node, and the domain holds them both.
    expect(pruneCandidate(dis(2, 2, 2, 2), ctx({ node: 'gb200-nvl72', transport: 'mnnvl' }))).toMatchObject({ ok: true, placement: 'cross-node' });
  });
});

describe('pruning: memory', () => {
  it("the 70B model's weights do not fit at TP1 or TP2 on an 80 GB H100, and do at TP4", () => {
    // Usable: 80 GB x 0.9 = 72 GB. TP2 holds 70.6e9 x 2 B / 2 = 70.6 GB of weights; with the 4 GB reserve nothing is
    // left for KV. TP4: 72 - 35.3 - 4 = 32.7 GB of KV.
    const c = ctx({ model: 'deepseek-r1-distill-llama-70b', node: 'dgx-h100', transport: 'ib-rdma' });
    const v = pruneCandidate(agg(4, 2), c);
    expect(v).toMatchObject({ ok: false, rule: 'memory' });
    expect(!v.ok && v.reason).toMatch(/^weights do not fit: .* at TP2 .* 72\.0 GB usable per GPU, 70\.6 GB of weights per rank/);
    expect(pruneCandidate(agg(2, 4), c).ok).toBe(true);
  });

  it('the KV pool must hold the longest request: the decode side fails where the prefill side still fits', () => {
    // gpu_memory_utilization 0.3: 80 GB x 0.3 = 24 GB - 8.03e9 x 2 B = 16.06 GB of weights - 4 GB = 3.94 GB of KV,
    // in 16-token blocks of 16 x 131,072 B = 2,097,152 B: floor(3.94e9 / 2,097,152) = 1,878 blocks = 30,048 tokens.
    // Prefill holds ISL 30,000 = 1,875 blocks: fits. Decode holds ISL + OSL = 30,100 = 1,882 blocks: does not.
    const c = ctx({ engine: { gpuMemoryUtilization: 0.3 }, longest: { isl: 30000, osl: 100 } });
    const v = pruneCandidate(dis(1, 1, 1, 1), c);
    expect(v).toMatchObject({ ok: false, rule: 'memory' });
    expect(!v.ok && v.reason).toMatch(/^KV does not fit: a TP1 decode worker keeps 3\.9 GB of KV per GPU .* room for 30,048 tokens, fewer than the longest request's 30,100 \(ISL 30,000 \+ OSL 100\)$/);
    // At TP2 each rank holds half the heads (and half the weights): plenty of room.
    expect(pruneCandidate(dis(1, 1, 1, 2), c).ok).toBe(true);
  });
});
