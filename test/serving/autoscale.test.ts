import { describe, expect, it } from 'vitest';
import { Simulator } from '../../src/engine/index.js';
import { FieldError } from '../../src/errors.js';
import { autoscaleSlots, Planner, type Role } from '../../src/serving/autoscale.js';
import type { Cluster, ClusterWorker, EngineLoad } from '../../src/serving/cluster.js';
import type { AutoscaleSpec, Deployment } from '../../src/spec/experiment.js';

const CONTEXT = 100_000;
const MAX_KV = 10_000;

function spec(over: Partial<AutoscaleSpec> = {}): AutoscaleSpec {
  return { target: 'latency', intervalS: 5, samples: 10, minWorkers: 1, maxGpuBudget: 8, provisionS: 20, slo: { ttftMs: 500, itlMs: 50 }, seriesS: 1000, ...over };
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
