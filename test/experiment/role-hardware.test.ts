import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/index.js';
import { Simulator } from '../../src/engine/index.js';
import { loadExperiment } from '../../src/experiment/load.js';
import { EventLog } from '../../src/metrics/event-log.js';
import { Cluster } from '../../src/serving/cluster.js';
import { simulatePoint } from '../../src/serving/simulate.js';
import { experiment, point } from '../serving/helpers.js';

function file(deployment: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'nixlsim-roles-'));
  const f = join(dir, 'x.yaml');
  writeFileSync(
    f,
    `name: x\ndeployment:\n  mode: disaggregated\n  model: llama-3.1-70b-instruct-fp8\n  connector: any-tp\n${deployment}\nworkload: { kind: closed-loop, concurrency: 2, requests: 4, isl: { mean: 2000 }, osl: { mean: 20 } }\n`,
  );
  return f;
}

describe('prefill and decode on different hardware', () => {
  it('a group names its own node; its GPU and vLLM batch defaults follow, and only it says so', () => {
    // Prefill on DGX H100 (H100: 8192 / 1024), decode on HGX A100 (A100: get_batch_defaults 2048 / 256).
    const f = file('  node: dgx-h100\n  transport: ib-rdma\n  placement: cross-node\n  prefill: { workers: 1, tp: 4 }\n  decode: { workers: 1, tp: 4, node: hgx-a100 }');
    const d = loadExperiment(f).experiment.deployment;
    expect(d.prefill).toEqual({ workers: 1, tp: 4 });
    expect(d.decode).toEqual({ workers: 1, tp: 4, node: 'hgx-a100', gpu: 'a100-80gb', engine: { maxNumBatchedTokens: 2048, maxNumSeqs: 256 } });
    expect(d.engine.maxNumBatchedTokens).toBe(8192);
  });

  it('different node types are different machines: same-node placement is refused at its line; a GPU the node lacks too', () => {
    const same = file('  node: dgx-h100\n  transport: ib-rdma\n  placement: same-node\n  prefill: { workers: 1, tp: 4 }\n  decode: { workers: 1, tp: 4, node: hgx-a100 }');
    expect(() => loadExperiment(same)).toThrow(/x\.yaml:\d+:\d+ deployment\.placement: prefill workers on 'dgx-h100' and decode workers on 'hgx-a100' are on different machines: placement must be cross-node, got same-node/);
    const gpu = file('  node: dgx-h100\n  transport: ib-rdma\n  prefill: { workers: 1, tp: 4 }\n  decode: { workers: 1, tp: 4, node: hgx-a100, gpu: h200-sxm }');
    expect(() => loadExperiment(gpu)).toThrow(/deployment\.decode\.gpu: node 'hgx-a100' has a100-80gb GPUs, not 'h200-sxm'/);
    // The group's node must offer the transport: h200-roce has RoCE, not InfiniBand.
    const ib = file('  node: dgx-h100\n  transport: ib-rdma\n  prefill: { workers: 1, tp: 4 }\n  decode: { workers: 1, tp: 4, node: h200-roce }');
    expect(() => loadExperiment(ib)).toThrow(/node 'h200-roce' \(the decode workers'\) does not offer transport 'ib-rdma'/);
  });

  it("each engine runs on its group's GPU: an H200 decode worker holds the KV of its 141 GB", () => {
    // 70B FP8 at TP4: 70.6e9 / 4 = 17.65 GB of weights a rank; KV a token a rank = 80 layers x 2 x (8 / 4) heads x 128
    // x 2 B = 81,920 B, 1,310,720 B a 16-token block. H100: (80e9 x 0.9 - 17.65e9 - 4e9) / 1,310,720 = 38,414 blocks;
    // H200: (141e9 x 0.9 - 17.65e9 - 4e9) / 1,310,720 = 80,299 blocks.
    const exp = experiment({
      deployment: {
        model: 'llama-3.1-70b-instruct-fp8',
        node: 'h100-roce',
        transport: 'roce-rdma',
        prefill: { workers: 1, tp: 4 },
        decode: { workers: 1, tp: 4, node: 'h200-roce', gpu: 'h200-sxm' },
      },
    });
    const c = new Cluster(new Simulator(), new EventLog(), defaultCatalog(), exp.deployment);
    expect(c.prefillWorkers[0]!.engine.pool.total).toBe(38414);
    expect(c.decodeWorkers[0]!.engine.pool.total).toBe(80299);
    // Decode steps are memory-bound: on H200's 4.8 TB/s (H100: 3.35) the mean ITL is shorter than with H100 decode.
    const h200 = simulatePoint(point(exp), defaultCatalog());
    const h100 = simulatePoint(point(experiment({ deployment: { ...exp.deployment, decode: { workers: 1, tp: 4 } } })), defaultCatalog());
    expect(h200.requests.completed).toBe(10);
    expect(h200.itlMs.mean!).toBeLessThan(h100.itlMs.mean!);
    expect(h200.itlMs.mean! / h100.itlMs.mean!).toBeGreaterThan(3.35 / 4.8 - 0.05);
  });
});
