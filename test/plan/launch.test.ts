import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultCatalog, getLlm, getNode, getTransport } from '../../src/catalog/index.js';
import { UserError } from '../../src/errors.js';
import type { EngineArgs } from '../../src/spec/experiment.js';
import { defaultRecipeFile, launchScript, loadRecipe, placeWorkers } from '../../src/plan/launch.js';
import type { DeploymentSection } from '../../src/plan/types.js';
import { VLLM_ENGINE } from '../helpers/fixtures.js';

const base = { model: 'llama-3.1-70b-instruct-fp8', gpu: 'h100-sxm', node: 'dgx-h100', connector: 'any-tp', transport: 'ib-rdma' };
const engine: EngineArgs = { ...VLLM_ENGINE, maxNumSeqs: 1024 }; // get_batch_defaults on an H100

describe('workers on nodes', () => {
  it('cross-node: prefill fills the first nodes, decode starts a node of its own', () => {
    const d: DeploymentSection = { mode: 'disaggregated', ...base, prefill: { workers: 3, tp: 2 }, decode: { workers: 1, tp: 4 }, placement: 'cross-node' };
    expect(placeWorkers(d, 8).map((w) => [w.role, w.node, w.gpus.join(','), w.slot])).toEqual([
      ['prefill', 'node-1', '0,1', 0],
      ['prefill', 'node-1', '2,3', 1],
      ['prefill', 'node-1', '4,5', 2],
      ['decode', 'node-2', '0,1,2,3', 0],
    ]);
  });

  it('same-node: all on one node, each on the next GPUs; aggregated workers spill to a new node when one is full', () => {
    const s: DeploymentSection = { mode: 'disaggregated', ...base, prefill: { workers: 1, tp: 1 }, decode: { workers: 1, tp: 1 }, placement: 'same-node' };
    expect(placeWorkers(s, 8).map((w) => [w.node, w.gpus.join(','), w.slot])).toEqual([
      ['node-1', '0', 0],
      ['node-1', '1', 1],
    ]);
    // 3 x TP4 on 8-GPU nodes: two fit node 1, the third goes to node 2.
    const a: DeploymentSection = { mode: 'aggregated', ...base, aggregated: { workers: 3, tp: 4 } };
    expect(placeWorkers(a, 8).map((w) => [w.node, w.gpus.join(',')])).toEqual([
      ['node-1', '0,1,2,3'],
      ['node-1', '4,5,6,7'],
      ['node-2', '0,1,2,3'],
    ]);
  });
});

describe('launch.sh', () => {
  const c = defaultCatalog();
  const recipe = loadRecipe();
  const input = (d: DeploymentSection, transport: string, more: Partial<EngineArgs> = {}) => ({
    deployment: d,
    router: 'kv-aware',
    engine: { ...engine, ...more },
    llm: getLlm(c, d.model),
    node: getNode(c, d.node),
    transport: getTransport(c, transport),
    title: 'test',
  });

  it("disaggregated over InfiniBand: UCX's environment, the role flag, NixlConnector on both roles, a side-channel port per worker on a host", () => {
    const d: DeploymentSection = { mode: 'disaggregated', ...base, prefill: { workers: 2, tp: 2 }, decode: { workers: 1, tp: 4 }, placement: 'same-node' };
    const sh = launchScript(recipe, input(d, 'ib-rdma'));
    expect(sh).toMatch(/^export UCX_TLS='rc_x,rc,dc_x,dc,cuda_copy,cuda_ipc'$/m);
    expect(sh).toMatch(/python -m dynamo\.frontend --router-mode kv --http-port 8000 &/);
    expect(sh.match(/--disaggregation-mode prefill/g)).toHaveLength(2);
    expect(sh.match(/--disaggregation-mode decode/g)).toHaveLength(1);
    expect(sh.match(/--kv-transfer-config '\{"kv_connector":"NixlConnector","kv_role":"kv_both"\}'/g)).toHaveLength(3);
    // Three workers on one node: ports 20097, 20098, 20099 and GPUs 0-1, 2-3, 4-7.
    expect(sh).toMatch(/CUDA_VISIBLE_DEVICES=4,5,6,7 VLLM_NIXL_SIDE_CHANNEL_PORT=20099 DYN_SYSTEM_PORT=8083 python -m dynamo\.vllm/);
    expect(sh).toMatch(/--model RedHatAI\/Meta-Llama-3\.1-70B-Instruct-FP8-dynamic/);
    expect(sh).toMatch(/--tensor-parallel-size 4 \\\n {2}--max-num-batched-tokens 8192 \\\n {2}--max-num-seqs 1024 \\\n {2}--block-size 16/);
  });

  it('EFA with libfabric names the LIBFABRIC backend; aggregated has no role flag and no KV config; eager is passed on', () => {
    const d: DeploymentSection = { mode: 'disaggregated', ...base, node: 'p5.48xlarge', transport: 'efa-libfabric', prefill: { workers: 1, tp: 8 }, decode: { workers: 1, tp: 8 }, placement: 'cross-node' };
    const efa = launchScript(recipe, input(d, 'efa-libfabric'));
    expect(efa).toMatch(/^export FI_PROVIDER='efa'$/m);
    expect(efa).toMatch(/"kv_connector_extra_config":\{"backends":\["LIBFABRIC"\]\}/);
    const a: DeploymentSection = { mode: 'aggregated', ...base, aggregated: { workers: 2, tp: 4 } };
    const agg = launchScript(recipe, input(a, 'ib-rdma', { enforceEager: true }));
    expect(agg).not.toMatch(/disaggregation-mode|kv-transfer-config|UCX_TLS|VLLM_NIXL_SIDE_CHANNEL_PORT/);
    expect(agg.match(/--enforce-eager/g)).toHaveLength(2);
  });

  it("routerConfig: the frontend gets the KV router's flags with the experiment's values, and none without one", () => {
    const d: DeploymentSection = { mode: 'aggregated', ...base, aggregated: { workers: 2, tp: 4 } };
    const frontend = (sh: string) => sh.split('\n').filter((l) => l.startsWith('python -m dynamo.frontend'));
    const kv = { ...input(d, 'ib-rdma'), routerConfig: { overlapScoreWeight: 0.5, temperature: 0.25, queueThreshold: 3, busyThreshold: 0.9, hostCacheHitWeight: 0, diskCacheHitWeight: 0 } };
    expect(frontend(launchScript(recipe, kv))).toEqual([
      'python -m dynamo.frontend --router-mode kv --http-port 8000 --router-kv-overlap-score-weight 0.5 --router-temperature 0.25 --router-queue-threshold 3 --active-decode-blocks-threshold 0.9 &',
    ]);
    // Round-robin reads only the busy threshold; a null threshold (off) has no flag.
    expect(frontend(launchScript(recipe, { ...kv, router: 'round-robin' }))).toEqual([
      'python -m dynamo.frontend --router-mode round-robin --http-port 8000 --active-decode-blocks-threshold 0.9 &',
    ]);
    const noQueue = launchScript(recipe, { ...kv, routerConfig: { overlapScoreWeight: 1, temperature: 0, queueThreshold: null, busyThreshold: null, hostCacheHitWeight: 0, diskCacheHitWeight: 0 } });
    expect(frontend(noQueue)).toEqual(['python -m dynamo.frontend --router-mode kv --http-port 8000 --router-kv-overlap-score-weight 1 --router-temperature 0 &']);
    expect(noQueue).toContain('# The model simulated no router queue (routerConfig.queueThreshold null), so no --router-queue-threshold;');
    // Without routerConfig the line is as it always was.
    expect(frontend(launchScript(recipe, input(d, 'ib-rdma')))).toEqual(['python -m dynamo.frontend --router-mode kv --http-port 8000 &']);
  });

  it('the recipe file is checked: a missing source is one error naming the file and line', () => {
    expect(loadRecipe(defaultRecipeFile()).transports['tcp']!.env['UCX_TLS']).toBe('tcp,cuda_copy');
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-launch-'));
    const text = readFileSync(defaultRecipeFile(), 'utf8').replace(/^ {2}transports\.tcp: .*\n/m, '');
    writeFileSync(join(dir, 'r.yaml'), text);
    expect(() => loadRecipe(join(dir, 'r.yaml'))).toThrow(UserError);
    expect(() => loadRecipe(join(dir, 'r.yaml'))).toThrow(/r\.yaml:\d+:\d+ sources: no source for 'transports\.tcp'/);
  });
});
