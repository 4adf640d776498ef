import { describe, expect, it } from 'vitest';
import { Simulator } from '../../src/engine/index.js';
import { EventLog } from '../../src/metrics/event-log.js';
import { defaultEfficiency } from '../../src/physics/index.js';
import { Engine, type Seq } from '../../src/serving/engine.js';
import { ObjectKvStore } from '../../src/serving/object-store.js';
import type { EngineArgs } from '../../src/spec/experiment.js';
import { VLLM_ENGINE } from '../helpers/fixtures.js';
import { blockSeq, smallPoolH100 } from './helpers.js';

describe('the object store on its own', () => {
  // 10 GB/s each way, 5 ms a request, 16 in flight; blocks of 2 MiB.
  const cfg = { readBytesPerS: 10e9, writeBytesPerS: 10e9, requestLatencyS: 0.005, maxConcurrentRequests: 16 };
  const B = 2_097_152;
  const hashes = Array.from({ length: 40 }, (_, i) => i);

  it('writes what it lacks at its bandwidth or its round trips, whichever is longer; finds blocks once written', () => {
    const s = new ObjectKvStore(cfg);
    // 10 blocks: 20,971,520 B / 10e9 = 2.097 ms of bytes, ceil(10 / 16) = 1 round trip = 5 ms: there at 5 ms.
    expect(s.store(hashes, 0, 10, 1, B, 0)).toBeCloseTo(0.005, 12);
    // 40 blocks (10 already there): 30 new, 62,914,560 B = 6.291 ms of bytes from t=1 (the write queue is free) against
    // ceil(30 / 16) = 2 round trips = 10 ms: there at 1.010 s.
    expect(s.store(hashes, 0, 40, 1, B, 1)).toBeCloseTo(1.01, 12);
    expect(s.counts.storedBlocks).toBe(40);
    // A check of all 40 at t=0.5 s finds the first 10 (the rest not yet written) and takes ceil(40 / 16) x 5 ms = 15 ms.
    expect(s.check(hashes, 0, 40, 1, 0.5)).toEqual({ found: 10, doneAt: 0.515 });
    expect(s.check(hashes, 0, 40, 1, 2)).toEqual({ found: 40, doneAt: 2.015 });
    // Another TP's workers hold other shards under other keys: nothing there for them.
    expect(s.check(hashes, 0, 40, 4, 2).found).toBe(0);
    expect(s.counts.checkedBlocks).toBe(120);
  });

  it('reads through one shared queue: a second read waits behind the bytes of the first', () => {
    const s = new ObjectKvStore({ ...cfg, readBytesPerS: 1e9 });
    // 32 blocks = 67,108,864 B at 1e9 B/s = 67.1 ms (more than 2 round trips, 10 ms).
    expect(s.read(32, B, 0)).toBeCloseTo(0.067108864, 12);
    // 1 more block from t=0 by another worker: behind those bytes, 2.097 ms more.
    expect(s.read(1, B, 0)).toBeCloseTo(0.067108864 + 0.002097152, 12);
    expect(s.counts.onboardedBlocks).toBe(33);
  });
});

/**
 * Two Llama-3.1-8B workers on H100s, each with a 300-block GPU pool and a host tier, sharing one object store
 * (10 GB/s, 1 ms a request, 16 in flight). A (a 256-block prefix p0-p255 and a0, 4112 tokens) runs on worker X, whose
 * host tier writes its 257 blocks through to the bucket. B (the prefix and b0) comes to worker Y a second after A
 * ends: Y has nothing on its GPU or host, so it checks its 256 cacheable blocks (the last token is always computed)
 * in the bucket: ceil(256 / 16) = 16 round trips = 16 ms, all found; reads them, 536,870,912 B at 10 GB/s =
 * 53.6870912 ms (more than its 16 round trips); copies them host to GPU at the H100's 50 GB/s, 10.73741824 ms; then
 * runs the step it would run with the prefix on its GPU. So B's TTFT is that of a GPU hit + 80.42450944 ms.
 */
describe('a prefix one worker computed, found by another in the shared bucket', () => {
  const { llm, gpu, blockBytes: BLOCK_BYTES, reserve } = smallPoolH100();
  const prefix = Array.from({ length: 256 }, (_, i) => `p${i}`);
  const STORE = { readBytesPerS: 10e9, writeBytesPerS: 10e9, requestLatencyS: 0.001, maxConcurrentRequests: 16 };

  /** A on X, then B on Y (or on X again: `same`), with or without the bucket; B's TTFT and Y. */
  function run(opts: { store: boolean; same?: boolean }): { ttftB: number; y: Engine; store: ObjectKvStore | undefined } {
    const sim = new Simulator(1);
    const store = opts.store ? new ObjectKvStore(STORE) : undefined;
    const args: EngineArgs = { ...VLLM_ENGINE, activationReserveBytes: reserve, kvOffload: { hostBytes: 1000 * BLOCK_BYTES, ...(opts.store ? { object: STORE } : {}) } };
    const engine = (id: string) => new Engine(sim, new EventLog({ maxLines: 10 }), { id, llm, gpu, tp: 1, args, eff: defaultEfficiency(gpu), ...(store ? { objectStore: store } : {}) });
    const x = engine('agg-0');
    const y = opts.same ? x : engine('agg-1');
    let ttftB = NaN;
    const seq = (id: string, hashes: string[], then?: () => void): Seq => {
      const sentAt = sim.now;
      return blockSeq(id, hashes, () => {
        if (id === 'B') ttftB = sim.now - sentAt;
        if (then) sim.schedule(1, then); // the next request a second later
      });
    };
    sim.schedule(0, () => x.submit(seq('A', [...prefix, 'a0'], () => y.submit(seq('B', [...prefix, 'b0'])))));
    sim.run({ until: 100 });
    x.check();
    y.check();
    return { ttftB, y, store };
  }

  it('reads the prefix from the bucket: the GPU hit plus the check, the read and the copy to the GPU', () => {
    const onGpu = run({ store: false, same: true }); // B on X: the prefix still on X's GPU
    const recomputed = run({ store: false }); // B on Y without a bucket: nothing to find
    const shared = run({ store: true });
    expect(onGpu.y.prefixHits).toMatchObject({ gpu: 256, object: 0 });
    expect(recomputed.y.prefixHits).toMatchObject({ gpu: 0, host: 0, object: 0 });
    expect(shared.y.prefixHits).toEqual({ promptBlocks: 257, gpu: 0, host: 0, disk: 0, object: 256 });
    expect(shared.ttftB - onGpu.ttftB).toBeCloseTo(0.016 + 0.0536870912 + 0.01073741824, 12);
    // (Recomputing B's 4112 tokens takes about as long, ~85 ms: 537 MB of KV at 10 GB/s buys little on an H100.)
    expect(recomputed.y.prefixHits.object).toBe(0);
    // Written: A's 257 blocks, then B's b0 (Y's host tier stores B's 257, the bucket has 256 of them); read: 256;
    // checked: A's 256 on X first (the bucket empty then: A waited its 16 ms too), then B's 256 on Y.
    expect(shared.store!.counts).toEqual({ storedBlocks: 258, onboardedBlocks: 256, checkedBlocks: 512 });
  });

  it('costs a miss its check: a prompt the bucket lacks waits for one HEAD a block, then runs as without it', () => {
    // B on Y, with the bucket, but A's prefix never written (X and Y each have a bucket of their own): 16 ms more.
    const sim = new Simulator(1);
    const args: EngineArgs = { ...VLLM_ENGINE, activationReserveBytes: reserve, kvOffload: { hostBytes: 1000 * BLOCK_BYTES, object: STORE } };
    const y = new Engine(sim, new EventLog({ maxLines: 10 }), { id: 'agg-1', llm, gpu, tp: 1, args, eff: defaultEfficiency(gpu), objectStore: new ObjectKvStore(STORE) });
    const plainSim = new Simulator(1);
    const plain = new Engine(plainSim, new EventLog({ maxLines: 10 }), { id: 'agg-2', llm, gpu, tp: 1, args: { ...args, kvOffload: { hostBytes: 1000 * BLOCK_BYTES } }, eff: defaultEfficiency(gpu) });
    const ttft = (e: Engine, s: Simulator): number => {
      let t = NaN;
      s.schedule(0, () => e.submit(blockSeq('B', [...prefix, 'b0'], () => (t = s.now))));
      s.run({ until: 100 });
      return t;
    };
    expect(ttft(y, sim) - ttft(plain, plainSim)).toBeCloseTo(0.016, 12);
    expect(y.prefixHits.object).toBe(0);
  });
});
