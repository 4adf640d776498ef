import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, test } from 'vitest';
import {
  defaultCatalog,
  defaultModelsDir,
  getAllToAll,
  getGpu,
  getLlm,
  getNode,
  getTransport,
  loadCatalog,
  projectRoot,
  scaleDecimal,
} from '../../src/catalog/index.js';
import { UserError } from '../../src/errors.js';

const c = defaultCatalog();

describe('the project catalog (models/)', () => {
  test('is found from the module location and loads', () => {
    expect(existsSync(join(projectRoot(), 'package.json'))).toBe(true);
    expect(defaultModelsDir()).toBe(join(projectRoot(), 'models'));
    expect(defaultCatalog()).toBe(c); // cached
  });

  test('holds every contract id', () => {
    for (const id of ['deepseek-r1-distill-llama-70b', 'llama-3.1-8b-instruct', 'llama-3.1-70b-instruct-fp8', 'qwen3-8b', 'deepseek-v3', 'deepseek-r1', 'qwen3-235b-a22b']) {
      expect(c.llms.has(id), id).toBe(true);
    }
    for (const id of ['h100-sxm', 'h200-sxm', 'a100-80gb']) expect(c.gpus.has(id), id).toBe(true);
    for (const id of ['p5.48xlarge', 'dgx-h100', 'h200-roce']) expect(c.nodes.has(id), id).toBe(true);
    for (const id of ['nvlink', 'ib-rdma', 'roce-rdma', 'efa-libfabric', 'efa-ucx', 'host-staged', 'tcp']) {
      expect(c.transports.has(id), id).toBe(true);
    }
    for (const id of ['equal-tp', 'decode-wider-tp', 'any-tp', 'any-tp-hardened']) expect(c.connectors.has(id), id).toBe(true);
  });

  test('converts GPU datasheet units to SI', () => {
    const h100 = getGpu(c, 'h100-sxm');
    expect(h100.flops.bf16).toBe(989e12);
    expect(h100.flops.fp8).toBe(1979e12);
    expect(h100.hbmBytes).toBe(80e9);
    expect(h100.hbmBandwidth).toBe(3.35e12);
    expect(h100.nvlinkBandwidth).toBe(900e9);
    expect(h100.hostLink.bandwidth).toBe(64e9);
    expect(h100.efficiency.prefillCompute).toEqual({ value: 0.761, min: 0.3, max: 0.85 });
    expect(h100.efficiency.decodeMemory).toEqual({ value: 0.9, min: 0.5, max: 0.95 });
    expect(h100.efficiency.stepOverheadS).toEqual({ value: 0.00238, min: 0.0005, max: 0.01 }); // 2.38 ms a step
    expect(h100.efficiency.eagerLayerOverheadS).toEqual({ value: 0.000231, min: 0.0001, max: 0.0004 }); // 0.231 ms a layer
    expect(h100.efficiency.allReduceLatencyS).toEqual({ value: 29.8e-6, min: 5e-6, max: 60e-6 }); // 29.8 us
    // vLLM's get_batch_defaults for an OpenAI API server: >= 70 GiB and not an A100 -> 8192 / 1024; the A100 -> 2048 / 256.
    expect(h100.vllmBatchDefaults).toEqual({ maxNumBatchedTokens: 8192, maxNumSeqs: 1024 });
    expect(getGpu(c, 'h200-sxm').vllmBatchDefaults).toEqual({ maxNumBatchedTokens: 8192, maxNumSeqs: 1024 });
    expect(getGpu(c, 'a100-80gb').vllmBatchDefaults).toEqual({ maxNumBatchedTokens: 2048, maxNumSeqs: 256 });
    expect(getGpu(c, 'h200-sxm').hbmBytes).toBe(141e9);
    expect(getGpu(c, 'h200-sxm').hbmBandwidth).toBe(4.8e12);
    const a100 = getGpu(c, 'a100-80gb');
    expect(a100.flops.fp8).toBeNull();
    expect(a100.flops.bf16).toBe(312e12);
    expect(a100.hostLink.bandwidth).toBe(32e9);
  });

  test('converts transport GB/s and us to bytes/s and seconds', () => {
    const efa = getTransport(c, 'efa-libfabric');
    expect(efa.bandwidthPerRail).toEqual({ min: 2.4e9, typical: 10e9, max: 12.5e9 });
    expect(efa.backend).toBe('LIBFABRIC');
    expect(efa.striped).toBe(true);
    const tcp = getTransport(c, 'tcp');
    expect(tcp.bandwidthPerRail.typical).toBe(1e8); // 0.1 GB/s = 100 MB/s
    expect(tcp.bandwidthPerRail.max).toBe(3e9);
    expect(tcp.latencyS).toBe(5e-5); // 50 us
    expect(tcp.perReadS).toBe(1e-4); // 100 us
    const nvlink = getTransport(c, 'nvlink');
    expect(nvlink.bandwidthPerRail).toEqual({ min: 141e9, typical: 141e9, max: 450e9 });
    expect(nvlink.perDescriptorS).toBe(3.1e-6); // 3.1 us, cuda_ipc
    const ib = getTransport(c, 'ib-rdma');
    expect(ib.perDescriptorS).toBe(8.7e-7); // 0.87 us, UCX rc
    // UCX stripes a rank over up to UCX_MAX_RNDV_RAILS = 2 NICs; libfabric over its GPU's own; a rail moves 90% of line rate.
    expect(ib.railRule).toEqual({ rule: 'per-rank-max', max: 2 });
    expect(ib.lineRateShare).toBe(0.9);
    expect(efa.railRule).toEqual({ rule: 'gpu-nics' });
    expect(tcp.lineRateShare).toBe(1);
    // NIXL libfabric's EAGAIN retry schedule, in SI units: 1 ms base, 100 ms cap, a line every 100 attempts.
    expect(efa.eagainRetry).toMatchObject({ baseDelayS: 0.001, maxDelayS: 0.1, logEveryAttempts: 100 });
    expect(getTransport(c, 'roce-rdma').bandwidthPerRail.typical).toBe(17.5e9);
    expect(getTransport(c, 'efa-ucx').gpuDirect).toBe(false);
  });

  test('converts NIC line rates from gigabits', () => {
    const p5 = getNode(c, 'p5.48xlarge');
    expect(p5.gpu).toBe('h100-sxm');
    expect(p5.gpusPerNode).toBe(8);
    // 100 Gb/s / 8 bits = 12.5 GB/s; 32 of them = 400 GB/s = the 3,200 Gbps AWS quotes.
    expect(p5.nics).toEqual({ kind: 'efa', count: 32, bandwidth: 12.5e9 });
    expect(p5.nics.count * p5.nics.bandwidth * 8).toBe(3200e9);
    expect(p5.transports).toEqual(['nvlink', 'efa-libfabric', 'efa-ucx', 'host-staged', 'tcp']);
    expect(getNode(c, 'dgx-h100').nics).toEqual({ kind: 'infiniband', count: 8, bandwidth: 50e9 });
    expect(getNode(c, 'h200-roce').gpu).toBe('h200-sxm');
  });

  test('LLM shapes: GQA as written, MLA folded into one 576-wide head', () => {
    const r1 = getLlm(c, 'deepseek-r1-distill-llama-70b');
    expect([r1.attention, r1.layers, r1.kvHeads, r1.headDim, r1.maxContext]).toEqual(['gqa', 80, 8, 128, 131072]);
    expect(r1.params).toBe(70.6e9);
    expect(r1.activeParams).toBe(r1.params);
    expect(r1.mla).toBeUndefined();
    const fp8 = getLlm(c, 'llama-3.1-70b-instruct-fp8');
    expect([fp8.weightDtype, fp8.kvDtype]).toEqual(['fp8', 'bf16']);
    expect(getLlm(c, 'llama-3.1-8b-instruct').params).toBe(8.03e9);
    expect(getLlm(c, 'qwen3-8b').maxContext).toBe(40960);
    const v3 = getLlm(c, 'deepseek-v3');
    expect(v3.attention).toBe('mla');
    expect(v3.mla).toEqual({ kvLoraRank: 512, ropeDim: 64 });
    expect([v3.kvHeads, v3.headDim]).toEqual([1, 576]); // 512 + 64
    expect([v3.layers, v3.hiddenSize, v3.heads, v3.vocabSize, v3.maxContext, v3.intermediateSize]).toEqual([61, 7168, 128, 129280, 163840, 18432]);
    expect([v3.params, v3.activeParams]).toEqual([671e9, 37e9]);
    expect([v3.weightDtype, v3.kvDtype]).toEqual(['fp8', 'bf16']);
  });

  test('MoE shapes from config.json; dense models have none', () => {
    const v3 = getLlm(c, 'deepseek-v3');
    expect(v3.moe).toEqual({ routedExperts: 256, expertsPerToken: 8, sharedExperts: 1, moeIntermediateSize: 2048, firstDenseLayers: 3, expertGroups: 8, groupsPerToken: 4 });
    // DeepSeek-R1 is V3's shape: every field but the names and sources the same.
    const r1 = getLlm(c, 'deepseek-r1');
    const shape = (m: typeof v3) => ({ ...m, id: '', name: '', hfRepo: '', sources: {} });
    expect(shape(r1)).toEqual(shape(v3));
    expect(r1.hfRepo).toBe('deepseek-ai/DeepSeek-R1');
    const q = getLlm(c, 'qwen3-235b-a22b');
    expect([q.attention, q.layers, q.hiddenSize, q.heads, q.kvHeads, q.headDim, q.params, q.activeParams]).toEqual(['gqa', 94, 4096, 64, 4, 128, 235e9, 22e9]);
    expect(q.moe).toEqual({ routedExperts: 128, expertsPerToken: 8, sharedExperts: 0, moeIntermediateSize: 1536, firstDenseLayers: 0 });
    // The routed experts hold most of the weights: 256 x 58 MoE layers x 3 x 7168 x 2048 = 653.9B of V3's 671B; the
    // 8 + 1 a token passes through, 9 x 58 x 3 x 7168 x 2048 = 23.0B of its 37B active.
    const perExpert = 3 * 7168 * 2048 * (61 - 3);
    expect(perExpert * 256).toBe(653_908_770_816);
    expect(perExpert * 9).toBe(22_988_980_224);
    for (const id of ['llama-3.1-8b-instruct', 'qwen3-8b', 'deepseek-r1-distill-llama-70b']) expect(getLlm(c, id).moe, id).toBeUndefined();
  });

  test("DeepEP's published all-to-all figures, in SI, and the nodes that run them", () => {
    const a = getAllToAll(c, 'deepep-v1');
    expect(a.measuredOn).toEqual({ gpu: 'H800 SXM', nvlinkBandwidth: 400e9, nicBandwidth: 50e9 }); // 400 Gb/s / 8
    expect(a.fp8BytesPerElement).toBe(1.03125); // 1 + 4 / 128
    expect(a.highThroughput.intranode).toEqual({ ep: 8, dispatch: 153e9, combine: 158e9 });
    expect(a.highThroughput.internode.map((r) => [r.ep, r.dispatch, r.combine])).toEqual([[16, 43e9, 43e9], [32, 58e9, 57e9], [64, 51e9, 50e9]]);
    expect(a.lowLatency.tokensPerRank).toBe(128);
    expect(a.lowLatency.points[0]).toEqual({ ep: 8, dispatchS: 77e-6, dispatchBandwidth: 98e9, combineS: 114e-6, combineBandwidth: 127e9 });
    expect(a.lowLatency.points.map((p) => p.ep)).toEqual([8, 16, 32, 64, 128, 256]);
    // The README's low-latency bandwidth is one copy per token and chosen expert: 128 x 8 x (7168 + 7168 / 128 x 4 + 16)
    // bytes in 77 us is 98.5 GB/s, the 98 of its EP8 row.
    expect((128 * 8 * (7168 + (7168 / 128) * 4 + 16)) / 77e-6 / 1e9).toBeCloseTo(98.5, 1);
    for (const id of ['dgx-h100', 'dgx-h200', 'h100-roce', 'h200-roce']) expect(getNode(c, id).allToAll, id).toBe('deepep-v1');
    for (const id of ['p5.48xlarge', 'hgx-a100', 'hgx-b200', 'gb200-nvl72']) expect(getNode(c, id).allToAll, id).toBeUndefined();
    const h200 = getNode(c, 'dgx-h200');
    expect([h200.gpu, h200.gpusPerNode, h200.nics.kind, h200.nics.count, h200.nics.bandwidth]).toEqual(['h200-sxm', 8, 'infiniband', 8, 50e9]);
  });

  test('placements, in a fixed order, with the reason a user would search for', () => {
    const efa = getTransport(c, 'efa-libfabric');
    expect(efa.placements.map((p) => [p.placement, p.outcome])).toEqual([
      ['intra-pod', 'fails'],
      ['same-node', 'fails'],
      ['cross-node', 'works'],
    ]);
    expect(efa.placements[1]?.reason).toContain('fi_read still retrying EAGAIN on rail 0');
    const nvlink = getTransport(c, 'nvlink');
    expect(nvlink.placements.map((p) => p.outcome)).toEqual(['works', 'unavailable', 'unavailable']);
    expect(nvlink.placements[1]?.reason).toContain('cudaDeviceEnablePeerAccess');
    expect(getTransport(c, 'ib-rdma').placements.every((p) => p.outcome === 'works' && p.reason === undefined)).toBe(true);
  });

  test('records are frozen: the shared catalog cannot be edited behind other callers', () => {
    const h100 = getGpu(c, 'h100-sxm');
    expect(() => {
      (h100.efficiency.decodeMemory as { value: number }).value = 1;
    }).toThrow(TypeError);
  });
});

/** Independent of the loader: walk every YAML file and check each number against its sources by hand-written rules. */
describe('every number in models/ has a source', () => {
  const dir = defaultModelsDir();
  const files = ['llm', 'gpu', 'node', 'transport', 'connector'].flatMap((k) => readdirSync(join(dir, k)).filter((f) => f.endsWith('.yaml')).map((f) => join(dir, k, f)));

  function numbers(v: unknown, path: string[] = []): string[][] {
    if (typeof v === 'number' || v === null) return [path];
    if (typeof v !== 'object') return [];
    return Object.entries(v).flatMap(([k, x]) => (path.length === 0 && k === 'sources' ? [] : numbers(x, [...path, k])));
  }

  test.each(files)('%s', (file) => {
    const rec = parse(readFileSync(file, 'utf8')) as { sources: Record<string, string> };
    for (const field of numbers(rec)) {
      const covering = field.map((_, i) => field.slice(0, i + 1).join('.')).filter((p) => rec.sources[p] !== undefined);
      expect(covering.length, `${file}: ${field.join('.')}`).toBeGreaterThan(0);
    }
  });

  test('calibration parameters say they are estimates', () => {
    for (const g of c.gpus.values()) {
      for (const k of [
        'efficiency.prefillCompute',
        'efficiency.decodeMemory',
        'efficiency.stepOverheadS',
        'efficiency.eagerLayerOverheadS',
        'efficiency.piecewiseLayerOverheadS',
        'efficiency.allReduceLatencyS',
        'efficiency.connectorStepOverheadS',
      ]) {
        expect(g.sources[k], `${g.id} ${k}`).toMatch(/^estimate: .*calibration parameter/);
      }
    }
    for (const t of c.transports.values()) {
      // An estimate, or a named measurement (a PR or issue whose numbers set it).
      for (const k of ['perReadUs', 'perDescriptorUs']) expect(t.sources[k], `${t.id} ${k}`).toMatch(/^estimate: .*calibration parameter|#\d+/);
    }
  });
});

describe('lookups', () => {
  test('an unknown id suggests the near miss', () => {
    expect(() => getTransport(c, 'efa-libfabrc')).toThrow(UserError);
    expect(() => getTransport(c, 'efa-libfabrc')).toThrow(/^unknown transport 'efa-libfabrc'; did you mean 'efa-libfabric'\? Known: .*tcp/);
    expect(() => getGpu(c, 'h100-smx')).toThrow("did you mean 'h100-sxm'?");
    expect(() => getNode(c, 'p5.48xlarg')).toThrow("did you mean 'p5.48xlarge'?");
  });

  test('a far-off id lists the known ones without a guess', () => {
    let msg = '';
    try {
      getLlm(c, 'gpt-4');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/^unknown model 'gpt-4'\. Known: deepseek-r1, deepseek-r1-distill-llama-70b, /);
    expect(msg).not.toContain('did you mean');
  });
});

describe('another catalog directory', () => {
  const v = loadCatalog('test/fixtures/catalog/valid');

  test('loads, with MLA derived and Gb/s converted', () => {
    expect([...v.llms.keys()]).toEqual(['tiny-gqa', 'tiny-mla']); // sorted by id
    const mla = getLlm(v, 'tiny-mla');
    expect([mla.kvHeads, mla.headDim]).toEqual([1, 288]); // 256 + 32
    expect([mla.params, mla.activeParams]).toEqual([1.5e9, 2.5e8]);
    expect(getNode(v, 'tiny-node').nics.bandwidth).toBe(25e9); // 200 Gb/s / 8
    expect(getGpu(v, 'tiny-gpu').flops.fp8).toBeNull();
    // Seconds as written (a duration, not a fraction): 0.0002 s = 0.2 ms per layer per eager step.
    expect(getGpu(v, 'tiny-gpu').efficiency.eagerLayerOverheadS).toEqual({ value: 2e-4, min: 1e-4, max: 5e-4 });
    expect(getTransport(v, 'tiny-link').placements[1]).toEqual({ placement: 'same-node', outcome: 'fails', reason: 'test fixture' });
  });

  test('a MoE shape that contradicts itself or the model is an error at its field', () => {
    const tiny = readFileSync('test/fixtures/catalog/valid/llm/tiny-gqa.yaml', 'utf8');
    const moeSources = ['routedExperts', 'expertsPerToken', 'sharedExperts', 'moeIntermediateSize', 'firstDenseLayers', 'expertGroups', 'groupsPerToken']
      .map((k) => `  moe.${k}: test fixture\n`)
      .join('');
    const withMoe = (moe: string, sources = moeSources) => tiny.replace('sources:\n', `moe: ${moe}\nsources:\n${sources}`);
    const errorOf = (text: string): string => {
      const dir = mkdtempSync(join(tmpdir(), 'nixlsim-moe-'));
      mkdirSync(join(dir, 'llm'));
      writeFileSync(join(dir, 'llm', 'tiny-gqa.yaml'), text);
      try {
        loadCatalog(dir);
        return '';
      } catch (e) {
        return (e as Error).message;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    // tiny-gqa: 4 layers, hidden 1024, 0.3B parameters. 8 experts of 3 x 1024 x 512 over 4 layers: 0.05B, fits.
    const ok = '{ routedExperts: 8, expertsPerToken: 2, sharedExperts: 0, moeIntermediateSize: 512, firstDenseLayers: 0, expertGroups: 4, groupsPerToken: 2 }';
    expect(errorOf(withMoe(ok))).toBe('');
    expect(errorOf(withMoe(ok.replace('expertsPerToken: 2', 'expertsPerToken: 9')))).toMatch(/moe\.expertsPerToken: expertsPerToken \(9\) must be <= routedExperts \(8\)/);
    expect(errorOf(withMoe(ok.replace(', groupsPerToken: 2', ''), moeSources.replace('  moe.groupsPerToken: test fixture\n', '')))).toMatch(
      /moe\.expertGroups: expertGroups needs groupsPerToken \(config\.json n_group and topk_group\)/,
    );
    expect(errorOf(withMoe(ok.replace('expertGroups: 4', 'expertGroups: 3')))).toMatch(/expertGroups \(3\) must divide routedExperts \(8\)/);
    expect(errorOf(withMoe(ok.replace('firstDenseLayers: 0', 'firstDenseLayers: 4')))).toMatch(/moe\.firstDenseLayers: firstDenseLayers \(4\) must be < layers \(4\)/);
    // 64 experts of 3 x 1024 x 512 x 4 layers = 0.40B routed parameters > 0.3B.
    expect(errorOf(withMoe(ok.replace('routedExperts: 8', 'routedExperts: 64')))).toMatch(/moe\.routedExperts: the routed experts alone hold 0\.4B parameters, more than paramsB \(0\.3\)/);
    expect(errorOf(withMoe(ok, moeSources.replace('  moe.sharedExperts: test fixture\n', '')))).toMatch(/moe\.sharedExperts: has no source/);
  });

  test("a node's allToAll must name an all-to-all record; a table's EP sizes must rise", () => {
    const copyWith = (edit: (dir: string) => void): string => {
      const dir = mkdtempSync(join(tmpdir(), 'nixlsim-a2a-'));
      try {
        for (const kind of ['gpu', 'node', 'transport']) {
          mkdirSync(join(dir, kind));
          for (const f of readdirSync(join('test/fixtures/catalog/valid', kind))) writeFileSync(join(dir, kind, f), readFileSync(join('test/fixtures/catalog/valid', kind, f)));
        }
        mkdirSync(join(dir, 'all-to-all'));
        writeFileSync(join(dir, 'all-to-all', 'deepep-v1.yaml'), readFileSync('models/all-to-all/deepep-v1.yaml'));
        edit(dir);
        loadCatalog(dir);
        return '';
      } catch (e) {
        return (e as Error).message;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const nodeFile = (dir: string) => join(dir, 'node', 'tiny-node.yaml');
    const addToNode = (line: string) => (dir: string) => writeFileSync(nodeFile(dir), readFileSync(nodeFile(dir), 'utf8').replace('sources:', `${line}\nsources:`));
    expect(copyWith(addToNode('allToAll: deepep-v1'))).toBe('');
    expect(copyWith(addToNode('allToAll: deepep-v2'))).toMatch(/tiny-node\.yaml:\d+:\d+ allToAll: unknown all-to-all record 'deepep-v2'; did you mean 'deepep-v1'\?/);
    const a2a = (dir: string) => join(dir, 'all-to-all', 'deepep-v1.yaml');
    expect(copyWith((dir) => writeFileSync(a2a(dir), readFileSync(a2a(dir), 'utf8').replace('- { ep: 32, dispatchGBps: 58', '- { ep: 12, dispatchGBps: 58')))).toMatch(
      /deepep-v1\.yaml:\d+:\d+ highThroughput\.internode\[1\]\.ep: ep \(12\) must be larger than the row before's \(16\)/,
    );
  });

  test('a directory that is not there, or not a catalog, is a user error', () => {
    expect(() => loadCatalog('test/fixtures/catalog/no-such-dir')).toThrow(UserError);
    expect(() => loadCatalog('test/fixtures')).toThrow(/not a catalog directory/);
  });
});

test('scaleDecimal shifts on decimal digits', () => {
  expect(scaleDecimal(50, -6)).toBe(5e-5); // 50 * 1e-6 in binary would be 4.9999999999999996e-5
  expect(scaleDecimal(3.35, 12)).toBe(3.35e12);
  expect(scaleDecimal(0.01, -6)).toBe(1e-8);
  expect(scaleDecimal(1e-7, 3)).toBe(1e-4);
});
