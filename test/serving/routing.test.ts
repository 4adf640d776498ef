import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/index.js';
import { Simulator } from '../../src/engine/index.js';
import { EventLog } from '../../src/metrics/event-log.js';
import { Cluster, type ServingRequest } from '../../src/serving/cluster.js';
import { runPoint } from '../../src/serving/simulate.js';
import type { RouterKind } from '../../src/spec/experiment.js';
import { VLLM_ENGINE } from '../helpers/fixtures.js';
import { experiment, point } from './helpers.js';

/** The routers inside a deployment: which worker a request lands on, and the KV router's queue on the kernel. */
const c = defaultCatalog();

describe('routing a Mooncake-style trace over two aggregated workers', () => {
  // Four 4096-token prompts (8 Mooncake blocks of 512 tokens): A and B at t = 0, then B again at 10 s and A again at
  // 20 s. Round-robin sends A to w0, B to w1, the second B to w0 and the second A to w1: no prompt finds its prefix.
  // The KV router sends each repeat to the worker that holds its prefix: 255 of its 256 blocks cached.
  const dir = mkdtempSync(join(tmpdir(), 'nixlsim-routing-'));
  const file = join(dir, 'trace.jsonl');
  const rec = (ts: number, ids: number[]) => JSON.stringify({ timestamp: ts, input_length: 4096, output_length: 10, hash_ids: ids });
  const a = [1, 2, 3, 4, 5, 6, 7, 8];
  const b = [9, 10, 11, 12, 13, 14, 15, 16];
  writeFileSync(file, [rec(0, a), rec(0, b), rec(10_000, b), rec(20_000, a)].join('\n') + '\n');
  const ttft = (router: RouterKind) =>
    runPoint(
      point(experiment({ deployment: { mode: 'aggregated', router, aggregated: { workers: 2, tp: 1 } }, workload: { kind: 'trace', requests: 0, trace: { format: 'mooncake', path: file, speedup: 1 } } })),
      c,
    ).result.ttftMs;

  it('round-robin misses every repeat: the four TTFTs are one full prefill each', () => {
    const t = ttft('round-robin');
    expect(t.min).toBeCloseTo(t.max!, 0);
  });

  it('the KV router hits both repeats: two TTFTs of a one-block prefill, two full ones', () => {
    const rr = ttft('round-robin');
    const kv = ttft('kv-aware');
    expect(kv.max).toBeCloseTo(rr.max!, 0);
    // Half the requests prefill 1 block of 256: the mean is about half of round-robin's.
    expect(kv.mean!).toBeLessThan(0.6 * rr.mean!);
    expect(kv.min! * 5).toBeLessThan(kv.max!);
  });
});

describe("the KV router's queue on the kernel", () => {
  // One aggregated worker with max_num_batched_tokens 512 and queue threshold 1: the router holds a request while the
  // worker has more than 512 uncached prompt tokens booked, i.e. from the second 1000-token prompt on, until the first
  // token of one routed before it.
  it('holds requests at the router, routes each once room frees, and leaves its books empty', () => {
    const e = experiment({
      deployment: {
        mode: 'aggregated',
        router: 'kv-aware',
        routerConfig: { overlapScoreWeight: 1, temperature: 0, queueThreshold: 1, busyThreshold: null, hostCacheHitWeight: 0, diskCacheHitWeight: 0 },
        engine: { ...VLLM_ENGINE, maxNumBatchedTokens: 512 },
      },
    });
    const sim = new Simulator(1);
    const cluster = new Cluster(sim, new EventLog({}), c, e.deployment);
    const done: ServingRequest[] = [];
    const firstTokens: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r: ServingRequest = { id: `r${i}`, isl: 1000, osl: 20, warmup: false, sentAt: 0, outputTokens: 0, status: 'running', fellBack: false, stale: false, onEnd: (x) => done.push(x) };
      sim.schedule(0, () => cluster.submit(r));
    }
    sim.run();
    expect(done.map((r) => r.status)).toEqual(Array(6).fill('completed'));
    // r0 goes at once (nothing booked); r1 finds 1000 > 512 booked and waits, and every later one behind it.
    expect(cluster.aggRouter.counts).toMatchObject({ routed: 6, queued: 5, refused: 0 });
    expect(cluster.aggRouter.queued).toBe(0);
    // First come, first served: the first tokens come in the order sent, each prompt alone on the worker.
    for (const r of done) firstTokens[Number(r.id.slice(1))] = r.firstTokenAt!;
    for (let i = 1; i < 6; i++) expect(firstTokens[i]!).toBeGreaterThan(firstTokens[i - 1]!);
    cluster.check();
  });

  it('without the queue (null) all six go to the worker at once', () => {
    const e = experiment({
      deployment: { mode: 'aggregated', router: 'kv-aware', routerConfig: { overlapScoreWeight: 1, temperature: 0, queueThreshold: null, busyThreshold: null, hostCacheHitWeight: 0, diskCacheHitWeight: 0 }, engine: { ...VLLM_ENGINE, maxNumBatchedTokens: 512 } },
    });
    const sim = new Simulator(1);
    const cluster = new Cluster(sim, new EventLog({}), c, e.deployment);
    let ended = 0;
    for (let i = 0; i < 6; i++) {
      cluster.submit({ id: `r${i}`, isl: 1000, osl: 20, warmup: false, sentAt: 0, outputTokens: 0, status: 'running', fellBack: false, stale: false, onEnd: () => ended++ });
    }
    expect(cluster.aggRouter.counts).toMatchObject({ routed: 6, queued: 0 });
    sim.run();
    expect(ended).toBe(6);
  });
});

describe('the busy threshold on the kernel', () => {
  it('fails a request with a 503 when every live worker has more of its KV cache in use than the threshold', () => {
    // A 0.001 threshold: any request running on the worker makes it busy, so the second request sent at once fails.
    const e = experiment({ deployment: { mode: 'aggregated', router: 'round-robin', routerConfig: { overlapScoreWeight: 1, temperature: 0, queueThreshold: 2, busyThreshold: 0.001, hostCacheHitWeight: 0, diskCacheHitWeight: 0 } } });
    const sim = new Simulator(1);
    const cluster = new Cluster(sim, new EventLog({}), c, e.deployment);
    const ended: ServingRequest[] = [];
    const send = (id: string) => cluster.submit({ id, isl: 1000, osl: 20, warmup: false, sentAt: 0, outputTokens: 0, status: 'running', fellBack: false, stale: false, onEnd: (r) => ended.push(r) });
    send('a');
    sim.run({ until: 0.001 }); // a is admitted: its blocks are in use
    send('b');
    sim.run();
    expect(ended.map((r) => [r.id, r.status, r.failure ?? ''])).toEqual([
      ['b', 'failed', 'all aggregated workers busy (HTTP 503 Service Unavailable)'],
      ['a', 'completed', ''],
    ]);
  });
});
