import { describe, expect, it } from 'vitest';
import { Simulator } from '../../src/engine/index.js';
import { FieldError } from '../../src/errors.js';
import { autoscaleSlots, Planner, type Role } from '../../src/serving/autoscale.js';
import type { Cluster, ClusterWorker, EngineLoad, ServingRequest } from '../../src/serving/cluster.js';
import type { AutoscaleSpec, Deployment } from '../../src/spec/experiment.js';

const CONTEXT = 100_000;
const MAX_KV = 10_000;

function spec(over: Partial<AutoscaleSpec> = {}): AutoscaleSpec {
  return { target: 'latency', intervalS: 5, samples: 10, minWorkers: 1, maxGpuBudget: 8, provisionS: 20, slo: { ttftMs: 500, itlMs: 50 }, predictor: 'constant', predictorLog1p: false, kalman: { qLevel: 1, qTrend: 0.1, r: 10, minPoints: 5 }, seriesS: 1000, ...over };
}

function deployment(prefill: { workers: number; tp: number }, decode: { workers: number; tp: number }): Deployment {
  return { mode: 'disaggregated', prefill, decode, aggregated: { workers: 1, tp: 1 } } as unknown as Deployment;
}

/**
 * A cluster as the planner sees it: workers of each role whose engines report the load the test sets per role, every
 * worker empty when drained. It records what the planner does to them.
 */
function fakeCluster(d: Deployment, slots: { prefill: number; decode: number }, load: Record<'prefill' | 'decode', EngineLoad>) {
  const offline = new Set<string>();
  const retired: string[] = [];
  const make = (role: string, n: number) => Array.from({ length: n }, (_, i) => ({ engine: { id: `${role}-${i}` } }) as unknown as ClusterWorker);
  const workers = { prefill: make('prefill', slots.prefill), decode: make('decode', slots.decode), aggregated: [] as ClusterWorker[] };
  const cluster = {
    d,
    llm: { maxContext: CONTEXT },
    workersOf: (r: Role) => workers[r],
    trackLoad: () => undefined,
    engineLoad: (_e: unknown, r: Role) => load[r as 'prefill' | 'decode'],
    setOffline: (_r: Role, w: ClusterWorker, off: boolean) => (off ? offline.add(w.engine.id) : offline.delete(w.engine.id)),
    isEmpty: () => true,
    retire: (w: ClusterWorker) => retired.push(w.engine.id),
  };
  return { cluster: cluster as unknown as Cluster, offline, retired };
}

const idle: EngineLoad = { queuedPrefillTokens: 0, kvTokens: 0, maxKvTokens: MAX_KV };

describe('the planner (Dynamo easy mode)', () => {
  it('scales decode up by one per interval once the last worker serves, within the GPU budget, and counts GPU-hours from each decision', () => {
    // Latency target: decode scales up when any engine's KV use is over 0.4; here every one's is 0.5. Prefill TP1 x 1,
    // decode TP2 x 1, budget 8: 1 + 2 = 3 GPUs. t = 5 s: decide, decode-1 provisions (5 GPUs held) and serves from
    // 25 s; the ticks at 10-20 s observe only (scaling in progress). t = 25 s: decode-1 has just come up (no samples
    // yet), decode-0 still reads 0.5: decode-2 (7 GPUs), serving at 45 s. A fourth would hold 9 > 8: never.
    // Over 100 s: 1 x 100 + 2 x 100 + 2 x (100 - 5) + 2 x (100 - 25) = 640 GPU-seconds.
    const d = deployment({ workers: 1, tp: 1 }, { workers: 1, tp: 2 });
    const a = spec();
    const slots = autoscaleSlots(d, a);
    expect(slots).toEqual({ prefill: 6, decode: 3, aggregated: 1 }); // (8 - 1 x 2) / 1 prefill; (8 - 1 x 1) / 2 = 3 decode
    const sim = new Simulator(1);
    const f = fakeCluster(d, slots, { prefill: idle, decode: { queuedPrefillTokens: 0, kvTokens: 5000, maxKvTokens: MAX_KV } });
    const p = new Planner(sim, f.cluster, a, undefined, () => false);
    p.start();
    sim.run({ until: 24.9 });
    expect(f.offline.has('decode-1')).toBe(true); // provisioning
    sim.run({ until: 25 });
    expect(f.offline.has('decode-1')).toBe(false);
    sim.run({ until: 100 });
    expect([...f.offline].sort()).toEqual(['prefill-1', 'prefill-2', 'prefill-3', 'prefill-4', 'prefill-5']);
    const r = p.result();
    expect(r.scaleUps).toBe(2);
    expect(r.gpuHours).toBeCloseTo(640 / 3600, 4);
    expect(r.peakWorkers).toEqual({ prefill: 1, decode: 3 });
  });

  it('scales prefill up on queued prompt tokens of a tenth of the context (latency) but not of the whole (throughput)', () => {
    // 20,000 queued tokens over a 100,000-token context: 0.2, past latency's 0.1, short of throughput's 1.0.
    for (const [target, ups] of [['latency', 1], ['throughput', 0]] as const) {
      const d = deployment({ workers: 1, tp: 1 }, { workers: 1, tp: 1 });
      const a = spec({ target, provisionS: 1000 });
      const sim = new Simulator(1);
      const f = fakeCluster(d, autoscaleSlots(d, a), { prefill: { ...idle, queuedPrefillTokens: 20_000 }, decode: { ...idle, kvTokens: 3000 } });
      const p = new Planner(sim, f.cluster, a, undefined, () => false);
      p.start();
      sim.run({ until: 60 });
      expect(p.result().scaleUps).toBe(ups);
    }
  });

  it('drains down to minWorkers when every engine is under the down threshold; a drained worker gives its GPUs back when empty', () => {
    // Decode at 0.05 < 0.1 (latency), 3 TP1 decode workers, minWorkers 2. t = 5 s: decode-2 drains; the next sample
    // (5.5 s) finds it empty and retires it. Then 2 = minWorkers: no more. Prefill (1 worker) cannot go below 1.
    // Over 20 s: prefill 1 x 20 + decode 2 x 20 + 1 x 5.5 = 65.5 GPU-seconds.
    const d = deployment({ workers: 1, tp: 1 }, { workers: 3, tp: 1 });
    const a = spec({ minWorkers: 1, maxWorkers: { decode: 3, prefill: 1 } });
    const sim = new Simulator(1);
    const f = fakeCluster(d, autoscaleSlots(d, { ...a }), { prefill: idle, decode: { ...idle, kvTokens: 500 } });
    const p = new Planner(sim, f.cluster, { ...a, minWorkers: 2 }, undefined, () => false);
    p.start();
    sim.run({ until: 20 });
    expect(f.retired).toEqual(['decode-2']);
    const r = p.result();
    expect(r.scaleDowns).toBe(1);
    expect(r.gpuHours).toBeCloseTo(65.5 / 3600, 4);
  });

  it('rejects a deployed fleet past the budget or outside the bounds, naming the field', () => {
    const d = deployment({ workers: 3, tp: 2 }, { workers: 2, tp: 2 });
    expect(() => autoscaleSlots(d, spec())).toThrow(FieldError);
    expect(() => autoscaleSlots(d, spec())).toThrow(/autoscale\.maxGpuBudget.*10 GPUs, more than the budget of 8/);
    expect(() => autoscaleSlots(deployment({ workers: 1, tp: 1 }, { workers: 1, tp: 1 }), spec({ minWorkers: 2 }))).toThrow(/deployment\.prefill\.workers/);
    // 'off' keeps the fleet as deployed, whatever the budget.
    expect(autoscaleSlots(d, spec({ target: 'off' }))).toEqual({ prefill: 3, decode: 2, aggregated: 1 });
  });
});

describe("the planner's SLA mode (throughput-based, Dynamo's Planner Design doc)", () => {
  it('sets each role to the replicas the corrected profile asks for, from one interval of traffic', () => {
    // Profile: a lone prompt prefills at 10 us a token; a decode step takes 10 ms + 0.1 ms a sequence. Interval 10 s:
    // 2,500 requests of ISL 1000, OSL 100 arrive; 500 complete with TTFT 20 ms and ITL 30 ms.
    // Prefill: expected TTFT 1000 x 10 us = 10 ms, correction 20 / 10 = 2, so min(1, 2) = 1; load 2,500 x 1000 / 10 =
    // 250,000 tokens/s over 1000 / 0.01 = 100,000 a GPU: ceil(2.5) = 3 workers.
    // Decode: context 1000 + 100/2 = 1050; the batch a worker carried, 2,500 / 10 x 100 x 0.030 = 750, expects a
    // 10 + 75 = 85 ms step; correction 30 / 85; ITL target 50 ms / (30 / 85) = 141.7 ms allows a batch of 1316 (a
    // 141.6 ms step), 1316 / 0.1416 = 9,294 tokens/s a GPU; 2,500 x 100 / 10 = 25,000 tokens/s need ceil(2.69) = 3
    // workers (uncorrected, the 50 ms target's batch of 400 would give 8,000 tokens/s a GPU and 4 workers).
    const d = deployment({ workers: 1, tp: 1 }, { workers: 1, tp: 1 });
    const a = spec({ target: 'sla', intervalS: 10, samples: 1, maxGpuBudget: 16, provisionS: 0 });
    const slots = autoscaleSlots(d, a);
    const sim = new Simulator(1);
    const f = fakeCluster(d, slots, { prefill: idle, decode: idle });
    const engine = {
      prefillSeconds: (isl: number) => isl * 1e-5,
      decodeStepSeconds: (b: number) => 0.01 + 1e-4 * b,
      pool: { total: 1_000_000 },
      cfg: { args: { blockSize: 16, maxNumSeqs: 2048 } },
    };
    for (const r of ['prefill', 'decode'] as const) for (const w of f.cluster.workersOf(r)) Object.assign(w.engine, engine);
    const p = new Planner(sim, f.cluster, a, undefined, () => false);
    p.start();
    const req = { isl: 1000, osl: 100, warmup: false, status: 'completed', sentAt: 0, firstTokenAt: 0.02, lastTokenAt: 0.02 + 99 * 0.03, outputTokens: 100 } as unknown as ServingRequest;
    for (let i = 0; i < 2500; i++) p.sent_(req);
    for (let i = 0; i < 500; i++) p.ended_(req);
    sim.run({ until: 10.5 });
    const serving = (r: 'prefill' | 'decode') => f.cluster.workersOf(r).filter((w) => !f.offline.has(w.engine.id)).length;
    expect(serving('prefill')).toBe(3);
    expect(serving('decode')).toBe(3);
    // No traffic the next interval: nothing to predict from, nothing changes.
    sim.run({ until: 20.5 });
    expect([serving('prefill'), serving('decode')]).toEqual([3, 3]);
  });

  it('is for disaggregated deployments only', () => {
    const agg = { mode: 'aggregated', prefill: { workers: 1, tp: 1 }, decode: { workers: 1, tp: 1 }, aggregated: { workers: 1, tp: 1 } } as unknown as Deployment;
    expect(() => autoscaleSlots(agg, spec({ target: 'sla' }))).toThrow(FieldError);
  });
});

