import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandPoints, loadExperiment, type Experiment } from '../../src/experiment/index.js';
import { FIXTURES, fixture, userError } from './helpers.js';

/** What minimal.yaml means with every default spelled out (the defaults the file format documents). */
const MINIMAL: Experiment = {
  name: 'minimal',
  seed: 0,
  deployment: {
    mode: 'disaggregated',
    model: 'llama-3.1-8b-instruct',
    gpu: 'h100-sxm', // the node's
    node: 'p5.48xlarge',
    connector: 'any-tp',
    transport: 'efa-libfabric',
    prefill: { workers: 1, tp: 1 },
    decode: { workers: 1, tp: 1 },
    aggregated: { workers: 1, tp: 1 },
    placement: 'cross-node',
    router: 'round-robin',
    engine: {
      // vLLM's OpenAI-server defaults on an H100 (>= 70 GiB, not an A100): the GPU record's vllmBatchDefaults.
      maxNumBatchedTokens: 8192,
      maxNumSeqs: 1024,
      blockSize: 16,
      gpuMemoryUtilization: 0.9,
      activationReserveBytes: 4e9,
      prefixCaching: true,
      chunkedPrefill: true,
    },
    bandwidth: 'typical',
    failurePolicy: 'fallback',
    maxRetries: 0,
  },
  workload: {
    kind: 'closed-loop',
    concurrency: 1,
    requests: 100,
    warmup: 0,
    rate: 1,
    isl: { mean: 3000, stddev: 0 },
    osl: { mean: 150, stddev: 0 },
  },
  faults: [],
  horizonS: 86400,
};

describe('loadExperiment', () => {
  it("fills every default into a minimal file, in the schema's key order (optional fields left out)", () => {
    const loaded = loadExperiment(fixture('minimal.yaml'));
    expect(loaded.experiment).toEqual(MINIMAL);
    // toEqual ignores key order; the JSON text does not.
    expect(JSON.stringify(loaded.experiment)).toBe(JSON.stringify(MINIMAL));
    expect(loaded.sweep).toEqual({});
    expect(loaded.file).toBe(resolve(FIXTURES, 'minimal.yaml'));
  });

  it('reads the same experiment from JSON as from YAML', () => {
    expect(loadExperiment(fixture('minimal.json')).experiment).toEqual(loadExperiment(fixture('minimal.yaml')).experiment);
  });

  it('keeps every field a full file gives, and no default overrides it', () => {
    const e = loadExperiment(fixture('full.yaml')).experiment;
    expect(e).toEqual({
      name: 'full',
      seed: 7,
      deployment: {
        mode: 'disaggregated',
        model: 'deepseek-r1-distill-llama-70b',
        gpu: 'h100-sxm',
        node: 'dgx-h100',
        connector: 'any-tp-hardened',
        transport: 'ib-rdma',
        prefill: { workers: 2, tp: 4 },
        decode: { workers: 1, tp: 8 },
        aggregated: { workers: 3, tp: 8 },
        placement: 'same-node',
        router: 'kv-aware',
        engine: {
          maxNumBatchedTokens: 4096,
          maxNumSeqs: 128,
          blockSize: 32,
          gpuMemoryUtilization: 0.85,
          activationReserveBytes: 2.5e9,
          prefixCaching: false,
          chunkedPrefill: false,
          enforceEager: true,
        },
        bandwidth: 'min',
        failurePolicy: 'retry',
        maxRetries: 5,
        expiry: { kind: 'abort-timeout', timeoutS: 480 },
        kvLoadTimeoutS: null,
      },
      workload: {
        kind: 'poisson',
        concurrency: 16,
        requests: 500,
        warmup: 20,
        rate: 2.5,
        isl: { mean: 8000, stddev: 1000 },
        osl: { mean: 500, stddev: 50 },
      },
      faults: [
        { kind: 'connection_reset', probability: 0.01 },
        { kind: 'link_down', at: [30, 90], durationS: 5, target: 'decode-0.rank0.nic' },
      ],
      horizonS: 3600,
    } satisfies Experiment);
  });

  it('resolves a trace path against the experiment file, and replays the whole trace unless told otherwise', () => {
    const w = loadExperiment(fixture('trace.yaml')).experiment.workload;
    expect(w.trace).toEqual({ format: 'azure', path: resolve(FIXTURES, 'traces/tiny-azure.csv'), speedup: 2, limit: 1 });
    expect(w.requests).toBe(0);
    // Lengths come from the trace records.
    expect(w.isl).toEqual({ mean: 0, stddev: 0 });
  });

  it('names a missing trace file with the position of its path', () => {
    const err = userError(() => loadExperiment(fixture('trace.yaml'), { set: ['workload.trace.path=nope.csv'] }));
    expect(err.where).toBe('--set workload.trace.path=nope.csv');
    expect(err.message).toContain(`trace file not found: ${resolve(FIXTURES, 'nope.csv')}`);
  });

  it('gives the retry policy 2 retries unless maxRetries says otherwise', () => {
    expect(loadExperiment(fixture('minimal.yaml'), { set: ['deployment.failurePolicy=retry'] }).experiment.deployment.maxRetries).toBe(2);
    const set = ['deployment.failurePolicy=retry', 'deployment.maxRetries=0'];
    expect(loadExperiment(fixture('minimal.yaml'), { set }).experiment.deployment.maxRetries).toBe(0);
  });

  it('takes the name from the file when the file gives none', () => {
    expect(loadExperiment(fixture('minimal.yaml'), { set: ['name=other'] }).experiment.name).toBe('other');
  });
});

describe('--set and --seed', () => {
  it('override fields before validation, values read as YAML scalars', () => {
    const e = loadExperiment(fixture('minimal.yaml'), {
      set: ['deployment.prefill.tp=2', 'workload.isl.mean=1000', 'deployment.router=kv-aware', 'deployment.engine.prefixCaching=false', 'deployment.expiry={kind: abort-timeout, timeoutS: 480}'],
      seed: 42,
    }).experiment;
    expect(e.seed).toBe(42);
    expect(e.deployment.prefill).toEqual({ workers: 1, tp: 2 });
    expect(e.workload.isl.mean).toBe(1000);
    expect(e.deployment.router).toBe('kv-aware');
    expect(e.deployment.engine.prefixCaching).toBe(false);
    expect(e.deployment.expiry).toEqual({ kind: 'abort-timeout', timeoutS: 480 });
  });

  it('pins a swept path: the flag wins and the sweep entry goes', () => {
    const loaded = loadExperiment(fixture('sweep.yaml'), { set: ['deployment.transport=tcp'] });
    expect(loaded.sweep).toEqual({ 'workload.isl.mean': [1000, 30000, 120000] });
    const points = expandPoints(loaded);
    expect(points.map((p) => p.id)).toEqual(['p000', 'p001', 'p002']);
    expect(points.every((p) => p.experiment.deployment.transport === 'tcp')).toBe(true);
  });

  it('sets sweep entries: a new one goes last and so varies fastest', () => {
    const loaded = loadExperiment(fixture('sweep.yaml'), { set: ['sweep.workload.concurrency=[1, 4]'] });
    expect(Object.keys(loaded.sweep)).toEqual(['deployment.transport', 'workload.isl.mean', 'workload.concurrency']);
    const points = expandPoints(loaded);
    expect(points).toHaveLength(12);
    expect(points.slice(0, 3).map((p) => p.params)).toEqual([
      { 'deployment.transport': 'ib-rdma', 'workload.isl.mean': 1000, 'workload.concurrency': 1 },
      { 'deployment.transport': 'ib-rdma', 'workload.isl.mean': 1000, 'workload.concurrency': 4 },
      { 'deployment.transport': 'ib-rdma', 'workload.isl.mean': 30000, 'workload.concurrency': 1 },
    ]);
  });
});

describe('expandPoints', () => {
  it('2 x 3 sweep: 6 points p000..p005, keys in file order, the last key fastest', () => {
    const loaded = loadExperiment(fixture('sweep.yaml'));
    expect(loaded.sweep).toEqual({ 'deployment.transport': ['ib-rdma', 'tcp'], 'workload.isl.mean': [1000, 30000, 120000] });
    const points = expandPoints(loaded);
    // Worked by hand: index i = 3 * transport + isl.
    expect(points.map((p) => [p.id, p.params])).toEqual([
      ['p000', { 'deployment.transport': 'ib-rdma', 'workload.isl.mean': 1000 }],
      ['p001', { 'deployment.transport': 'ib-rdma', 'workload.isl.mean': 30000 }],
      ['p002', { 'deployment.transport': 'ib-rdma', 'workload.isl.mean': 120000 }],
      ['p003', { 'deployment.transport': 'tcp', 'workload.isl.mean': 1000 }],
      ['p004', { 'deployment.transport': 'tcp', 'workload.isl.mean': 30000 }],
      ['p005', { 'deployment.transport': 'tcp', 'workload.isl.mean': 120000 }],
    ]);
    for (const p of points) {
      expect(p.experiment.deployment.transport).toBe(p.params['deployment.transport']);
      expect(p.experiment.workload.isl.mean).toBe(p.params['workload.isl.mean']);
      expect(p.experiment.workload.osl.mean).toBe(200);
    }
    // The loaded experiment is the first point's: the file's base alone names no transport.
    expect(loaded.experiment).toEqual(points[0]!.experiment);
  });

  it('a file without a sweep is one point, p000, with no params', () => {
    const loaded = loadExperiment(fixture('minimal.yaml'));
    expect(expandPoints(loaded)).toEqual([{ id: 'p000', params: {}, experiment: MINIMAL }]);
  });

  it('pads ids to the width of the largest, at least three digits', () => {
    const values = `[${Array.from({ length: 1001 }, (_, i) => i).join(',')}]`;
    const points = expandPoints(loadExperiment(fixture('minimal.yaml'), { set: [`sweep.workload.warmup=${values}`] }));
    expect(points).toHaveLength(1001);
    expect(points[0]!.id).toBe('p0000');
    expect(points[1000]!.id).toBe('p1000');
  });

  it('hands out copies: editing one point changes no other, nor a second expansion', () => {
    const loaded = loadExperiment(fixture('sweep.yaml'));
    const a = expandPoints(loaded);
    a[0]!.experiment.deployment.prefill.tp = 99;
    expect(a[1]!.experiment.deployment.prefill.tp).toBe(8);
    expect(expandPoints(loaded)[0]!.experiment.deployment.prefill.tp).toBe(8);
  });
});

describe('zip groups', () => {
  it('3 x zip(4): 12 points, isl slowest, the (transport, node) pair fastest, params in dimension order', () => {
    const loaded = loadExperiment(fixture('zip.yaml'));
    expect(loaded.dimensions).toEqual([['workload.isl.mean'], ['deployment.transport', 'deployment.node']]);
    expect(Object.keys(loaded.sweep)).toEqual(['workload.isl.mean', 'deployment.transport', 'deployment.node']);
    const points = expandPoints(loaded);
    // Worked by hand: index i = 4 * isl + pair; the pairs are (ib-rdma, dgx-h100), (efa-libfabric, p5.48xlarge),
    // (tcp, dgx-h100), (tcp, p5.48xlarge), never crossed.
    const pairs = [
      ['ib-rdma', 'dgx-h100'],
      ['efa-libfabric', 'p5.48xlarge'],
      ['tcp', 'dgx-h100'],
      ['tcp', 'p5.48xlarge'],
    ];
    const expected = [40000, 80000, 120000].flatMap((isl, a) =>
      pairs.map(([transport, node], b) => [
        `p00${a * 4 + b}`.replace(/^p0(?=\d{3})/, 'p'),
        { 'workload.isl.mean': isl, 'deployment.transport': transport, 'deployment.node': node },
      ]),
    );
    expect(expected.map(([id]) => id)).toEqual(['p000', 'p001', 'p002', 'p003', 'p004', 'p005', 'p006', 'p007', 'p008', 'p009', 'p010', 'p011']);
    expect(points.map((p) => [p.id, p.params])).toEqual(expected);
    // Spelt out for a few, so that the helper above is not the only statement of the order.
    expect(points[1]!.params).toEqual({ 'workload.isl.mean': 40000, 'deployment.transport': 'efa-libfabric', 'deployment.node': 'p5.48xlarge' });
    expect(points[6]!.params).toEqual({ 'workload.isl.mean': 80000, 'deployment.transport': 'tcp', 'deployment.node': 'dgx-h100' });
    expect(points[11]!.params).toEqual({ 'workload.isl.mean': 120000, 'deployment.transport': 'tcp', 'deployment.node': 'p5.48xlarge' });
    // Key order too (summary.json keeps it).
    expect(Object.keys(points[0]!.params)).toEqual(['workload.isl.mean', 'deployment.transport', 'deployment.node']);
    for (const p of points) {
      expect(p.experiment.workload.isl.mean).toBe(p.params['workload.isl.mean']);
      expect(p.experiment.deployment.transport).toBe(p.params['deployment.transport']);
      expect(p.experiment.deployment.node).toBe(p.params['deployment.node']);
    }
  });

  it('a list of zip maps: each group is one dimension, in order, where zip stands', () => {
    const loaded = loadExperiment(fixture('zip-list.yaml'));
    expect(loaded.dimensions).toEqual([
      ['deployment.transport', 'deployment.node'],
      ['workload.isl.mean', 'workload.osl.mean'],
      ['workload.concurrency'],
    ]);
    const points = expandPoints(loaded);
    expect(points).toHaveLength(8);
    const row = (t: string, n: string, isl: number, osl: number, c: number) => ({
      'deployment.transport': t,
      'deployment.node': n,
      'workload.isl.mean': isl,
      'workload.osl.mean': osl,
      'workload.concurrency': c,
    });
    expect(points.map((p) => [p.id, p.params])).toEqual([
      ['p000', row('ib-rdma', 'dgx-h100', 1000, 100, 1)],
      ['p001', row('ib-rdma', 'dgx-h100', 1000, 100, 4)],
      ['p002', row('ib-rdma', 'dgx-h100', 30000, 300, 1)],
      ['p003', row('ib-rdma', 'dgx-h100', 30000, 300, 4)],
      ['p004', row('efa-libfabric', 'p5.48xlarge', 1000, 100, 1)],
      ['p005', row('efa-libfabric', 'p5.48xlarge', 1000, 100, 4)],
      ['p006', row('efa-libfabric', 'p5.48xlarge', 30000, 300, 1)],
      ['p007', row('efa-libfabric', 'p5.48xlarge', 30000, 300, 4)],
    ]);
    expect(points[6]!.experiment.workload.osl.mean).toBe(300);
  });

  it('--set pins one path of a group (the rest still vary together) or sweeps it on its own, last', () => {
    const pinned = loadExperiment(fixture('zip.yaml'), { set: ['deployment.transport=tcp'] });
    expect(pinned.dimensions).toEqual([['workload.isl.mean'], ['deployment.node']]);
    expect(expandPoints(pinned).map((p) => p.params['deployment.node'])).toEqual(Array(3).fill(['dgx-h100', 'p5.48xlarge', 'dgx-h100', 'p5.48xlarge']).flat());

    const moved = loadExperiment(fixture('zip.yaml'), { set: ['sweep.deployment.transport=[tcp, host-staged]'] });
    expect(moved.dimensions).toEqual([['workload.isl.mean'], ['deployment.node'], ['deployment.transport']]);
    expect(expandPoints(moved).slice(0, 3).map((p) => p.params)).toEqual([
      { 'workload.isl.mean': 40000, 'deployment.node': 'dgx-h100', 'deployment.transport': 'tcp' },
      { 'workload.isl.mean': 40000, 'deployment.node': 'dgx-h100', 'deployment.transport': 'host-staged' },
      { 'workload.isl.mean': 40000, 'deployment.node': 'p5.48xlarge', 'deployment.transport': 'tcp' },
    ]);

    const err = userError(() => loadExperiment(fixture('zip.yaml'), { set: ['sweep.zip.deployment.node=[dgx-h100]'] }));
    expect(err.where).toBe('--set sweep.zip.deployment.node=[dgx-h100]');
    expect(err.message).toContain('zip groups can only be written in the file');
    expect(userError(() => loadExperiment(fixture('zip.yaml'), { set: ['sweep.zip={a: [1]}'] })).message).toContain('zip groups can only be written in the file');
  });
});

describe('experiments/README.md', () => {
  it('its complete example loads, and its sweep table is what expandPoints gives', () => {
    const readme = readFileSync(resolve(FIXTURES, '../../../experiments/README.md'), 'utf8');
    const example = /## A complete example[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-readme-'));
    try {
      writeFileSync(join(dir, 'example.yaml'), example!);
      const loaded = loadExperiment(join(dir, 'example.yaml'));
      expect(loaded.experiment.name).toBe('tcp-vs-rdma');
      expect(loaded.experiment.faults).toHaveLength(4);
      const rows = expandPoints(loaded).map((p) => `| ${p.id} | ${String(p.params['deployment.transport'])} | ${String(p.params['workload.isl.mean'])} |`);
      for (const row of rows) expect(readme).toContain(row);

      // The zip example, in place of the complete example's sweep: its table is what expandPoints gives.
      const zipSweep = /### Zip groups[\s\S]*?```yaml\n(sweep:[\s\S]*?)```/.exec(readme)?.[1];
      expect(zipSweep).toBeDefined();
      writeFileSync(join(dir, 'zip.yaml'), example!.replace(/^sweep:[\s\S]*$/m, zipSweep!));
      const zipped = expandPoints(loadExperiment(join(dir, 'zip.yaml')));
      expect(zipped).toHaveLength(6);
      for (const p of zipped) {
        const cells = ['workload.isl.mean', 'deployment.transport', 'deployment.node'].map((k) => String(p.params[k]));
        expect(readme).toContain(`| ${p.id} | ${cells.join(' | ')} |`);
      }

      // And the list-of-groups example loads with the point count it states.
      const listSweep = /of maps, each its own dimension[\s\S]*?```yaml\n(sweep:[\s\S]*?)```/.exec(readme)?.[1];
      expect(listSweep).toContain('8 points');
      writeFileSync(join(dir, 'zip-list.yaml'), example!.replace(/^sweep:[\s\S]*$/m, listSweep!));
      expect(expandPoints(loadExperiment(join(dir, 'zip-list.yaml')))).toHaveLength(8);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("vLLM's batch defaults follow the GPU (get_batch_defaults, OpenAI API server)", () => {
  const minimalOn = (node: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-defaults-'));
    const file = join(dir, 'e.yaml');
    writeFileSync(file, `deployment: { mode: aggregated, model: llama-3.1-8b-instruct, node: ${node}, connector: any-tp, transport: tcp }\nworkload: { kind: closed-loop, isl: { mean: 100 }, osl: { mean: 10 } }\n`);
    try {
      return loadExperiment(file).experiment.deployment.engine;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('an H100 (80 GB) or H200 (141 GB) gets 8192 batched tokens and 1024 sequences', () => {
    expect(minimalOn('dgx-h100')).toMatchObject({ maxNumBatchedTokens: 8192, maxNumSeqs: 1024 });
    expect(minimalOn('h200-roce')).toMatchObject({ maxNumBatchedTokens: 8192, maxNumSeqs: 1024 });
  });

  it('an A100 80 GB, which vLLM excludes from the large defaults, gets 2048 and 256', () => {
    expect(minimalOn('hgx-a100')).toMatchObject({ maxNumBatchedTokens: 2048, maxNumSeqs: 256 });
  });

  it('a value the file gives wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-defaults-'));
    const file = join(dir, 'e.yaml');
    writeFileSync(file, 'deployment: { mode: aggregated, model: llama-3.1-8b-instruct, node: hgx-a100, connector: any-tp, transport: tcp, engine: { maxNumBatchedTokens: 4096 } }\nworkload: { kind: closed-loop, isl: { mean: 100 }, osl: { mean: 10 } }\n');
    try {
      expect(loadExperiment(file).experiment.deployment.engine).toMatchObject({ maxNumBatchedTokens: 4096, maxNumSeqs: 256 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deployment.engine.kvLayout', () => {
  const engineWith = (layout: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-kvlayout-'));
    const file = join(dir, 'e.yaml');
    writeFileSync(file, `deployment: { mode: aggregated, model: llama-3.1-8b-instruct, node: hgx-a100, connector: any-tp, transport: tcp, engine: { kvLayout: ${layout} } }\nworkload: { kind: closed-loop, isl: { mean: 100 }, osl: { mean: 10 } }\n`);
    try {
      return loadExperiment(file).experiment.deployment.engine;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('reaches the experiment the simulator runs (it was validated, then dropped)', () => {
    expect(engineWith('cross-layer').kvLayout).toBe('cross-layer');
    expect(engineWith('NHD').kvLayout).toBe('NHD');
  });

  it('HND, the default, stays absent as in a file that never names it', () => {
    expect('kvLayout' in engineWith('HND')).toBe(false);
  });
});

describe('deployment.engine.kvCacheDtype and a group kvCacheDtype', () => {
  const load = (deploymentExtra: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-kvdtype-'));
    const file = join(dir, 'e.yaml');
    writeFileSync(file, `deployment:\n  mode: disaggregated\n  model: llama-3.1-8b-instruct\n  node: p5.48xlarge\n  connector: any-tp\n  transport: efa-libfabric\n  placement: cross-node\n${deploymentExtra}workload: { kind: closed-loop, isl: { mean: 100 }, osl: { mean: 10 } }\n`);
    try {
      return loadExperiment(file).experiment.deployment;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('reach the experiment the simulator runs, and stay absent when unset', () => {
    const d = load('  engine: { kvCacheDtype: fp8 }\n  decode: { tp: 1, kvCacheDtype: auto }\n');
    expect(d.engine.kvCacheDtype).toBe('fp8');
    expect(d.decode.kvCacheDtype).toBe('auto');
    expect('kvCacheDtype' in d.prefill).toBe(false);
    const plain = load('');
    expect('kvCacheDtype' in plain.engine).toBe(false);
    expect('kvCacheDtype' in plain.decode).toBe(false);
  });

  it('a value vLLM does not take here is one error at its line and column, naming the choices', () => {
    // Line 8 is `  decode: { tp: 1, kvCacheDtype: int8 }`; the key starts at column 20.
    const err = userError(() => load('  decode: { tp: 1, kvCacheDtype: int8 }\n'));
    expect(err.message).toMatch(/e\.yaml:8:20 deployment\.decode\.kvCacheDtype: expected one of 'auto', 'fp8', got 'int8'$/);
  });
});

describe("a group's dp, ep and allToAll (MoE workers with DP attention and EP)", () => {
  const load = (model: string, node: string, groups: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-ep-'));
    const file = join(dir, 'e.yaml');
    writeFileSync(file, `deployment:\n  mode: disaggregated\n  model: ${model}\n  node: ${node}\n  connector: any-tp\n  transport: ib-rdma\n${groups}workload: { kind: closed-loop, isl: { mean: 100 }, osl: { mean: 10 } }\n`);
    try {
      return loadExperiment(file).experiment.deployment;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('reach the experiment when given, and stay absent when not', () => {
    const d = load('deepseek-r1', 'dgx-h200', '  prefill: { tp: 1, dp: 8, ep: 8 }\n  decode: { tp: 1, dp: 16, ep: 16, allToAll: high-throughput }\n');
    expect(d.prefill).toEqual({ workers: 1, tp: 1, dp: 8, ep: 8 });
    expect(d.decode).toEqual({ workers: 1, tp: 1, dp: 16, ep: 16, allToAll: 'high-throughput' });
    expect(d.aggregated).toEqual({ workers: 1, tp: 1 });
  });

  it('each rule vLLM puts on them is one error at the field, saying what fits', () => {
    // Line 7 is the prefill group; 8 the decode group.
    expect(userError(() => load('deepseek-r1', 'dgx-h200', '  prefill: { tp: 2, dp: 4, ep: 4 }\n  decode: { tp: 8 }\n')).message).toMatch(
      /e\.yaml:7:\d+ deployment\.prefill\.ep: ep 4: vLLM's expert group is every GPU of the worker, tp x dp = 2 x 4 = 8 with --enable-expert-parallel \(ep 8\), or 1 without it/,
    );
    expect(userError(() => load('llama-3.1-8b-instruct', 'dgx-h100', '  prefill: { tp: 1, dp: 4 }\n')).message).toMatch(
      /e\.yaml:7:\d+ deployment\.prefill\.dp: dp 4: 'llama-3\.1-8b-instruct' is a dense model, .* write them as workers \(workers x 4\) with dp 1$/,
    );
    expect(userError(() => load('llama-3.1-8b-instruct', 'dgx-h100', '  decode: { tp: 2, ep: 2 }\n')).message).toMatch(/deployment\.decode\.ep: ep 2: 'llama-3\.1-8b-instruct' is a dense model/);
    expect(userError(() => load('deepseek-r1', 'dgx-h200', '  prefill: { tp: 8, allToAll: low-latency }\n  decode: { tp: 8 }\n')).message).toMatch(
      /deployment\.prefill\.allToAll: names the all-to-all kernels of expert parallelism, but the group has none \(ep 1\): set ep to tp x dp = 8, or leave allToAll out$/,
    );
    // DP8 x EP8 of DeepSeek-R1 holds 98.8 GB of weights a GPU: an H200 node, not an H100 one.
    expect(userError(() => load('deepseek-r1', 'dgx-h100', '  prefill: { tp: 1, dp: 8, ep: 8 }\n  decode: { tp: 1, dp: 16, ep: 16 }\n')).message).toMatch(
      /e\.yaml:7:\d+ deployment\.prefill\.dp: deepseek-r1 at TP1 x DP8 \(EP8\) does not fit on h100-sxm: 72\.0 GB usable per GPU, 98\.8 GB of weights per GPU/,
    );
  });

  it('EP needs all-to-all kernels on the node', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-ep-'));
    const file = join(dir, 'e.yaml');
    writeFileSync(file, `deployment:\n  mode: aggregated\n  model: deepseek-r1\n  node: hgx-b200\n  connector: any-tp\n  transport: ib-rdma\n  aggregated: { tp: 1, dp: 8, ep: 8 }\nworkload: { kind: closed-loop, isl: { mean: 100 }, osl: { mean: 10 } }\n`);
    try {
      expect(userError(() => loadExperiment(file)).message).toMatch(
        /e\.yaml:7:\d+ deployment\.aggregated\.ep: node 'hgx-b200' names no expert-parallel all-to-all kernels \(allToAll in models\/node\/\), .*; nodes that do: dgx-h100, dgx-h200, h100-roce, h200-roce; or leave ep at 1/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('DP ranks and the connector build', () => {
  it("builds before vllm#18903 (equal-tp) cannot serve DP workers: one error at dp naming those that can", () => {
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-dp-'));
    const file = join(dir, 'e.yaml');
    const write = (connector: string) =>
      writeFileSync(file, `deployment:\n  mode: disaggregated\n  model: deepseek-r1\n  node: dgx-h200\n  connector: ${connector}\n  transport: ib-rdma\n  prefill: { tp: 1, dp: 8, ep: 8 }\n  decode: { tp: 1, dp: 8, ep: 8 }\nworkload: { kind: closed-loop, isl: { mean: 100 }, osl: { mean: 10 } }\n`);
    try {
      write('equal-tp');
      expect(userError(() => loadExperiment(file)).message).toMatch(
        /e\.yaml:7:\d+ deployment\.prefill\.dp: connector profile 'equal-tp' cannot serve workers with data-parallel ranks: .*\(vllm-project\/vllm#18903 fixed it\); profiles that can: any-tp, any-tp-hardened, decode-wider-tp; or dp 1$/,
      );
      write('decode-wider-tp');
      expect(loadExperiment(file).experiment.deployment.prefill.dp).toBe(8);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pipeline parallelism (issue #27)', () => {
  it('pp above 1 is refused at its line: pull-mode NixlConnector builds take none, aggregated stages are not modelled', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-pp-'));
    const file = join(dir, 'e.yaml');
    const write = (mode: string, groups: string) =>
      writeFileSync(file, `deployment:\n  mode: ${mode}\n  model: llama-3.1-70b-instruct-fp8\n  node: dgx-h100\n  connector: any-tp\n  transport: ib-rdma\n${groups}workload: { kind: closed-loop, isl: { mean: 100 }, osl: { mean: 10 } }\n`);
    try {
      write('disaggregated', '  prefill: { tp: 2 }\n  decode: { tp: 2, pp: 2 }\n');
      expect(userError(() => loadExperiment(file)).message).toMatch(
        /e\.yaml:8:\d+ deployment\.decode\.pp: connector profile 'any-tp' cannot serve decode workers with pipeline parallelism \(pp 2\): .*vllm-project\/vllm PR #43720.*; use tp$/,
      );
      write('aggregated', '  aggregated: { tp: 2, pp: 2 }\n');
      expect(userError(() => loadExperiment(file)).message).toMatch(/e\.yaml:7:\d+ deployment\.aggregated\.pp: pipeline parallelism \(pp 2\) is not modelled for aggregated workers/);
      write('aggregated', '  aggregated: { tp: 2, pp: 1 }\n');
      expect(() => loadExperiment(file)).not.toThrow(); // pp 1: one stage, as without it
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deployment.engine.speculative (issue #27)', () => {
  const load = (model: string, speculative: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-spec-'));
    const file = join(dir, 'e.yaml');
    writeFileSync(file, `deployment:\n  mode: aggregated\n  model: ${model}\n  node: dgx-h200\n  connector: any-tp\n  transport: ib-rdma\n  aggregated: { tp: 8 }\n  engine:\n    speculative: ${speculative}\nworkload: { kind: closed-loop, isl: { mean: 100 }, osl: { mean: 10 } }\n`);
    try {
      return loadExperiment(file).experiment.deployment;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('reaches the engine as written; the acceptance rate defaults from the model at run time', () => {
    expect(load('deepseek-r1', '{ method: mtp, numSpeculativeTokens: 1 }').engine.speculative).toEqual({ method: 'mtp', numSpeculativeTokens: 1 });
  });

  it('null is off, as unset: absent from the experiment the simulator runs (a sweep can compare off with on)', () => {
    expect('speculative' in load('deepseek-r1', 'null').engine).toBe(false);
    expect('speculative' in load('llama-3.1-8b-instruct', 'null').engine).toBe(false); // no MTP module, but off
  });

  it('MTP on a model without an MTP module, n-gram without a rate, k out of range: one error at the field', () => {
    // Line 9 is the speculative line.
    expect(userError(() => load('llama-3.1-8b-instruct', '{ method: mtp, numSpeculativeTokens: 1 }')).message).toMatch(
      /e\.yaml:9:\d+ deployment\.engine\.speculative\.method: method 'mtp': model 'llama-3\.1-8b-instruct' ships no multi-token-prediction module/,
    );
    expect(userError(() => load('llama-3.1-8b-instruct', '{ method: ngram, numSpeculativeTokens: 3 }')).message).toMatch(
      /e\.yaml:9:\d+ deployment\.engine\.speculative\.method: method 'ngram' on 'llama-3\.1-8b-instruct': no acceptance rate: give acceptanceRate/,
    );
    expect(userError(() => load('deepseek-r1', '{ method: mtp, numSpeculativeTokens: 0 }')).message).toMatch(/deployment\.engine\.speculative\.numSpeculativeTokens: expected a whole number from 1 to 32/);
    expect(userError(() => load('deepseek-r1', '{ method: mtp, numSpeculativeTokens: 1, acceptanceRate: 1 }')).message).toMatch(/deployment\.engine\.speculative\.acceptanceRate: expected a number > 0 and < 1/);
    expect(userError(() => load('deepseek-r1', '{ method: medusa, numSpeculativeTokens: 1 }')).message).toMatch(/deployment\.engine\.speculative\.method: expected one of 'mtp', 'deepseek_mtp', 'eagle', 'eagle3', 'ngram'/);
  });
});
