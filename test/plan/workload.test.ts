import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultCatalog, getLlm } from '../../src/catalog/index.js';
import type { Experiment } from '../../src/spec/experiment.js';
import { probePoint, probeRequests } from '../../src/plan/probe.js';
import { resolveWorkload } from '../../src/plan/workload.js';
import { ownEngineArgs } from '../../src/plan/planner.js';
import { fixture } from '../experiment/helpers.js';

const catalog = defaultCatalog();
const llm = getLlm(catalog, 'llama-3.1-8b-instruct');
const TRACE = fileURLToPath(new URL('../fixtures/traces/azure-code-head.csv', import.meta.url));

describe('the workload the planner sizes for', () => {
  it('an experiment file: its lengths, pinned with --set where swept; the longest request is mean + 3 standard deviations', () => {
    const w = resolveWorkload(fixture('../plan/swept.yaml'), { catalog, llm, requests: 50, warmup: 5, maxRecords: 100, set: ['workload.isl.mean=4000'] });
    expect(w.kind).toBe('poisson');
    expect(w.section).toEqual({ kind: 'poisson', warmup: 5, isl: { mean: 4000, stddev: 200 }, osl: { mean: 100, stddev: 10 } });
    // 4000 + 3 x 200 = 4600 and 100 + 3 x 10 = 130.
    expect(w.longest).toEqual({ isl: 4600, osl: 130 });
    expect(w.notes).toEqual(['the Poisson rate (2 req/s) is replaced by each probe\'s rate']);
  });

  it("the file's router and routerConfig route every probe; sessions and prefix prompts are left out, and said so", () => {
    const w = resolveWorkload(fixture('../plan/swept.yaml'), {
      catalog,
      llm,
      requests: 50,
      warmup: 5,
      maxRecords: 100,
      set: [
        'workload.isl.mean=4000',
        'deployment.router=kv-aware',
        'deployment.routerConfig={overlapScoreWeight: 2}',
        'workload.sessions={turns: {mean: 3}}',
        'workload.prefixPrompts={tokens: 500}',
      ],
    });
    expect(w.routing?.router).toBe('kv-aware');
    expect(w.routing?.routerConfig?.overlapScoreWeight).toBe(2);
    expect(w.section).toEqual({ kind: 'poisson', warmup: 5, isl: { mean: 4000, stddev: 200 }, osl: { mean: 100, stddev: 10 } });
    expect(w.notes.join('\n')).toMatch(/routed as .* routes: kv-aware with its routerConfig/);
    expect(w.notes.join('\n')).toMatch(/multi-turn sessions and prefix prompts are left out/);
    // Round-robin with no routerConfig (the file's default) is no routing of its own.
    expect(resolveWorkload(fixture('../plan/swept.yaml'), { catalog, llm, requests: 50, warmup: 5, maxRecords: 100, set: ['workload.isl.mean=4000'] }).routing).toBeUndefined();
  });

  it("the file's own engine arguments are what it changed from the defaults; a batch size counts when its GPU's default differs", () => {
    const opts = { catalog, llm, requests: 50, warmup: 5, maxRecords: 100 };
    const plain = resolveWorkload(fixture('../plan/swept.yaml'), { ...opts, set: ['workload.isl.mean=4000'] });
    // The defaults against themselves: nothing of its own.
    expect(ownEngineArgs(plain.engine, plain.engine!.args)).toBeUndefined();
    // FP8 KV and 2048 batched tokens on a DGX H100, whose vLLM default is 8192 (an H100 has 80 GB).
    const w = resolveWorkload(fixture('../plan/swept.yaml'), { ...opts, set: ['workload.isl.mean=4000', 'deployment.engine.kvCacheDtype=fp8', 'deployment.engine.maxNumBatchedTokens=2048'] });
    expect(w.engine!.batchDefaults.maxNumBatchedTokens).toBe(8192);
    expect(ownEngineArgs(w.engine, plain.engine!.args)).toEqual({ kvCacheDtype: 'fp8', maxNumBatchedTokens: 2048 });
  });

  it('a trace: its own rate, mean and longest lengths over the records a probe may replay', () => {
    const w = resolveWorkload(TRACE, { catalog, llm, requests: 5, warmup: 1, maxRecords: 6 });
    // The first 6 rows are at 0, 0.052, 0.098189, 0.140684, 0.444994 and 0.539187 s: 5 gaps in 0.539187 s.
    expect(w.trace!.baseRate).toBeCloseTo(5 / 0.539187, 9);
    expect(w.trace!.offsets[3]).toBeCloseTo(0.140684, 9);
    // Lengths 4808+10, 3180+8, 110+27, 7433+14, 34+12, 374+14: the longest is 7433 + 14; mean ISL 15,939 / 6.
    expect(w.longest).toEqual({ isl: 7433, osl: 14 });
    expect(w.islMean).toBeCloseTo(15939 / 6, 9);
  });

  it('a trace probe replays just enough records, sped up so that they arrive at the probe rate', () => {
    const w = resolveWorkload(TRACE, { catalog, llm, requests: 3, warmup: 1, maxRecords: 40 });
    const template = {
      name: 'plan',
      seed: 0,
      deployment: { mode: 'aggregated', aggregated: { workers: 1, tp: 1 }, prefill: { workers: 1, tp: 1 }, decode: { workers: 1, tp: 1 } },
      workload: { kind: 'trace', requests: 40, warmup: 1, trace: { format: 'azure', path: TRACE, speedup: 1 } },
    } as unknown as Experiment;
    const sizing = { windowS: 0.1, minRequests: 3, maxRequests: 100 };
    // At 20 req/s a 0.1 s window holds 2 requests, fewer than --requests 3: 3 measured + 1 warm-up = 4 records.
    expect(probeRequests(20, sizing)).toBe(3);
    const pt = probePoint(template, { mode: 'aggregated', aggregated: { workers: 1, tp: 1 } }, undefined, 20, w, sizing);
    const t = pt.experiment.workload;
    expect(t.requests).toBe(4);
    // The 4th record, 0.140684 s into the trace, arrives (4 - 1) / 20 = 0.15 s into the replay.
    expect(0.140684 / t.trace!.speedup).toBeCloseTo(0.15, 12);
  });
});
