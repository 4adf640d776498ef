import { describe, expect, it } from 'vitest';
import { defaultCatalog, getLlm, getNode } from '../../src/catalog/index.js';
import type { LlmSpec, NodeSpec } from '../../src/spec/catalog.js';
import { candidateGpus, candidateId, enumerate, tpSizes } from '../../src/plan/enumerate.js';

const catalog = defaultCatalog();

describe('TP sizes', () => {
  it('Llama-3.1-8B (8 KV heads) on an 8-GPU node: 1, 2, 4 and 8', () => {
    expect(tpSizes(getLlm(catalog, 'llama-3.1-8b-instruct'), getNode(catalog, 'p5.48xlarge'))).toEqual({ sizes: [1, 2, 4, 8], excluded: [] });
  });

  it('leaves out sizes that do not split the KV heads evenly, and sizes wider than a node', () => {
    // 6 KV heads: 4 does not divide 6; 8 > 6 is not a multiple of 6 either. A 4-GPU node cannot hold a TP8 worker.
    const llm = { ...getLlm(catalog, 'llama-3.1-8b-instruct'), id: 'six-heads', kvHeads: 6 } as LlmSpec;
    const node = { ...getNode(catalog, 'dgx-h100'), id: 'half-node', gpusPerNode: 4, nvlinkDomainGpus: 4 } as NodeSpec;
    expect(tpSizes(llm, getNode(catalog, 'dgx-h100'))).toEqual({
      sizes: [1, 2],
      excluded: [
        { tp: 4, reason: "TP 4 does not divide the 6 KV heads of 'six-heads'" },
        { tp: 8, reason: "TP 8 is not a multiple of the 6 KV heads of 'six-heads' (heads cannot be replicated evenly)" },
      ],
    });
    expect(tpSizes(getLlm(catalog, 'llama-3.1-8b-instruct'), node).excluded).toEqual([
      { tp: 8, reason: "a worker lives on one node and 'half-node' has 4 GPUs" },
    ]);
  });

  it('a GB200 NVL72 tray has 4 GPUs, but its NVLink domain 72: a TP8 worker spans two trays over NVLink', () => {
    const tray = getNode(catalog, 'gb200-nvl72');
    expect(tray.gpusPerNode).toBe(4);
    expect(tpSizes(getLlm(catalog, 'llama-3.1-70b-instruct'), tray)).toEqual({ sizes: [1, 2, 4, 8], excluded: [] });
    // The same tray without its domain would stop at 4.
    const alone = { ...tray, id: 'lone-tray', nvlinkDomainGpus: 4 } as NodeSpec;
    expect(tpSizes(getLlm(catalog, 'llama-3.1-70b-instruct'), alone).excluded).toEqual([{ tp: 8, reason: "a worker lives on one node and 'lone-tray' has 4 GPUs" }]);
  });
});

describe('enumerate', () => {
  it('8 GPUs, TP 1/2/4/8: 4 aggregated and 21 disaggregated configurations, each leaving no room for another worker', () => {
    const all = enumerate(8, [1, 2, 4, 8]);
    const ids = all.map(candidateId);
    expect(ids.filter((id) => id.startsWith('agg-'))).toEqual(['agg-8xtp1', 'agg-4xtp2', 'agg-2xtp4', 'agg-1xtp8']);
    // By (prefill TP, decode TP), the (P, D) with P x pTP + D x dTP <= 8 and fewer GPUs left than the smaller TP:
    // (1,1): P + D = 8, P = 1..7 -> 7; (1,2): P + 2D = 8, D = 1..3 -> 3; (1,4): 4 + 4 -> 1; (2,1): 3; (2,2): P + D = 4 -> 3;
    // (2,4): 2x2 + 1x4 -> 1; (4,1): 1; (4,2): 1; (4,4): 1; any TP8 worker leaves no room for the other kind -> 0.
    // 7 + 3 + 1 + 3 + 3 + 1 + 1 + 1 + 1 = 21.
    const disagg = ids.filter((id) => id.startsWith('disagg-'));
    expect(disagg).toHaveLength(21);
    expect(disagg.slice(0, 7)).toEqual(['disagg-1xtp1-7xtp1', 'disagg-2xtp1-6xtp1', 'disagg-3xtp1-5xtp1', 'disagg-4xtp1-4xtp1', 'disagg-5xtp1-3xtp1', 'disagg-6xtp1-2xtp1', 'disagg-7xtp1-1xtp1']);
    expect(disagg).toContain('disagg-2xtp1-3xtp2');
    // 1 x TP1 + 3 x TP2 uses 7 GPUs and leaves room for another TP1 prefill worker: dominated, not tried.
    expect(disagg).not.toContain('disagg-1xtp1-3xtp2');
    expect(all.every((c) => candidateGpus(c) === 8)).toBe(true);
  });

  it('6 GPUs: a TP4 replica leaves 2 GPUs idle (no TP4 fits), and goodput per GPU counts the 4 it uses', () => {
    const agg = enumerate(6, [1, 2, 4, 8]).filter((c) => c.mode === 'aggregated');
    expect(agg.map((c) => [candidateId(c), candidateGpus(c)])).toEqual([['agg-6xtp1', 6], ['agg-3xtp2', 6], ['agg-1xtp4', 4]]);
  });

  it('one GPU allows one aggregated TP1 worker and no disaggregated configuration', () => {
    expect(enumerate(1, [1, 2]).map(candidateId)).toEqual(['agg-1xtp1']);
  });
});
