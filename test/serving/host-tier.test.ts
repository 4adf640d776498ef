import { describe, expect, it } from 'vitest';
import { defaultCatalog, getGpu } from '../../src/catalog/index.js';
import { Simulator } from '../../src/engine/index.js';
import { EventLog } from '../../src/metrics/event-log.js';
import { defaultEfficiency } from '../../src/physics/index.js';
import { Engine, type Seq } from '../../src/serving/engine.js';
import { copyDone, estimateHostCopy, HostKvTier } from '../../src/serving/host-tier.js';
import type { EngineArgs } from '../../src/spec/experiment.js';
import { VLLM_ENGINE } from '../helpers/fixtures.js';
import { blockSeq, smallPoolH100 } from './helpers.js';

describe('the host tier on its own', () => {
  it('finds a stored block only once its store has crossed the link, one copy at a time a direction', () => {
    // 1 us a block. Two stores at t=0 of 2 and 3 blocks: the first done at 2 us, the second queued behind it, at 5 us.
    const t = new HostKvTier({ capacityBlocks: 10, storeBlockS: 1e-6, loadBlockS: 1e-6 });
    t.store(['a', 'b'], 2, 0);
    t.store(['c', 'd', 'e'], 3, 0);
    expect(t.match(['a', 'b'], 0, 2, 1.9e-6)).toBe(0);
    expect(t.match(['a', 'b'], 0, 2, 2e-6)).toBe(2);
    expect(t.match(['c', 'd', 'e'], 0, 3, 4.9e-6)).toBe(0);
    expect(t.match(['c', 'd', 'e'], 0, 3, 5e-6)).toBe(3);
    // Loads use the other direction: 2 blocks from t=10 us end at 12 us; 1 more queued behind them ends at 13 us.
    expect(t.load(['a', 'b'], 0, 2, 10e-6)).toBeCloseTo(12e-6, 15);
    expect(t.load(['c'], 0, 1, 10e-6)).toBeCloseTo(13e-6, 15);
    // a and b again with a new f at 20 us: only f is copied (done at 21 us).
    t.store(['a', 'b', 'f'], 3, 20e-6);
    expect(t.counts.storedBlocks).toBe(6);
    expect(t.match(['f'], 0, 1, 20.9e-6)).toBe(0);
    expect(t.match(['f'], 0, 1, 21.1e-6)).toBe(1);
  });

  it('slows a copy while the other direction is busy, for the part that overlaps it', () => {
    // 10 us of copying from t=0 while the other way is busy until 6 us, 1.2x slower meanwhile: 6 / 1.2 = 5 us of it
    // done by 6 us, the other 5 us at full speed: ends at 11 us. 4 us of copying fits in the overlap: 4 x 1.2 = 4.8 us.
    expect(copyDone(0, 10e-6, 6e-6, 1.2)).toBeCloseTo(11e-6, 15);
    expect(copyDone(0, 4e-6, 6e-6, 1.2)).toBeCloseTo(4.8e-6, 15);
    // The other way idle (or no slowdown): the copy's own time.
    expect(copyDone(7e-6, 4e-6, 6e-6, 1.2)).toBeCloseTo(11e-6, 15);
    expect(copyDone(0, 4e-6, 6e-6, 1)).toBeCloseTo(4e-6, 15);
    // In a tier, 1 us a block each way: x and y stored from t=0 (on the host at 2 us); a, b, c stored from 10 us (the
    // device-to-host way busy to 13 us); x and y loaded from 11 us at 1.5x while those stores run: (13 - 11) / 1.5 =
    // 1.333 us of the load's 2 us by 13 us, the last 0.667 us after: done at 13.667 us.
    const t = new HostKvTier({ capacityBlocks: 10, storeBlockS: 1e-6, loadBlockS: 1e-6, duplexSlowdown: 1.5 });
    t.store(['x', 'y'], 2, 0);
    t.store(['a', 'b', 'c'], 3, 10e-6);
    expect(t.load(['x', 'y'], 0, 2, 11e-6)).toBeCloseTo(13e-6 + (2e-6 - 2e-6 / 1.5), 15);
  });

  it('times a copy microbenchmark as the engine copies: one way at the copy rate, both ways slowed while they overlap', () => {
    const h100 = getGpu(defaultCatalog(), 'h100-sxm');
    // 1000 blocks of 16 MiB one way: 16,777,216,000 B at 50e9 B/s = 335.54432 ms, 50 GB/s.
    const oneWay = estimateHostCopy(h100, 'to-gpu', 16_777_216_000, 16_777_216);
    expect(oneWay.ms).toBeCloseTo(335.54432, 9);
    expect(oneWay.effectiveGBps).toBeCloseTo(50, 9);
    expect(estimateHostCopy(h100, 'to-host', 16_777_216_000, 16_777_216).effectiveGBps).toBeCloseTo(50, 9);
    // Both ways, w = 1000 x 2 MiB / 50e9 = 41.94304 ms each: the store (queued first) takes w; the load, slowed by
    // 2 x 50 / 83.4 while the store runs, gets w / slowdown done by then and the rest after: 2w - w / slowdown.
    const w = 2_097_152_000 / 50e9;
    const slowdown = 100 / 83.4;
    const both = estimateHostCopy(h100, 'both', 2_097_152_000, 2_097_152);
    expect(both.ms).toBeCloseTo((2 * w - w / slowdown) * 1e3, 9);
    expect(both.effectiveGBps).toBeCloseTo((2 * 2_097_152_000) / (2 * w - w / slowdown) / 1e9, 9);
  });

  it('evicts least recently used blocks, never one being loaded, and drops a store with no room', () => {
    const t = new HostKvTier({ capacityBlocks: 3, storeBlockS: 0, loadBlockS: 0 });
    t.store(['a', 'b', 'c'], 3, 0);
    t.load(['a'], 0, 1, 0); // a: protected and now the most recent; b is the oldest
    t.store(['d'], 1, 0); // evicts b
    expect(t.match(['b'], 0, 1, 0)).toBe(0);
    expect(t.match(['a'], 0, 1, 0) + t.match(['c'], 0, 1, 0) + t.match(['d'], 0, 1, 0)).toBe(3);
    t.load(['c', 'd'], 0, 2, 0); // every block protected
    t.store(['e'], 1, 0);
    expect(t.counts).toEqual({ storedBlocks: 4, onboardedBlocks: 3, evictedBlocks: 1, droppedStores: 1 });
    t.loaded(['a'], 0, 1);
    t.store(['e'], 1, 0); // a may go now
    expect(t.match(['a'], 0, 1, 0)).toBe(0);
    expect(t.match(['e'], 0, 1, 0)).toBe(1);
    t.check('test');
  });
});

/**
 * Llama-3.1-8B on one H100 with a GPU pool of exactly 300 blocks of 16 tokens. A (4112 tokens: a 256-block prefix
 * p0-p255 and a0) runs and leaves its 257 blocks cached; F (298 new blocks, 299 with the token after the prompt) then
 * needs 299 of the 300, evicting the 256 oldest cached blocks (299 + 257 - 300), the prefix. B (p0-p255 and b0)
 * follows, a second apart each.
 *
 * Without a host tier B recomputes all 4112 tokens. With one, A's blocks were written through at its first token, and
 * B onboards the prefix: 256 blocks x 16 tokens x 131,072 bytes a token (32 layers x 8 KV heads x 128 x 2 (K and V)
 * x 2 bytes) = 536,870,912 bytes at the 50 GB/s a DMA copy reaches on the H100's PCIe Gen5 x16 (not its 64 GB/s line
 * rate; nothing is being stored then, so no both-ways slowdown) = 10.73741824 ms, then prefills 16 tokens after 4096
 * cached: the very step it runs when the prefix is still on the GPU. (With a prefix of 4 such blocks onboarding does
 * not pay: a step of 80 tokens costs about what one of 16 does, its fixed overheads dominating.)
 */
describe('a shared prefix evicted from a small GPU pool', () => {
  const { llm, gpu, blockBytes: BLOCK_BYTES, reserve } = smallPoolH100();
  const blocks = (name: string, n: number) => Array.from({ length: n }, (_, i) => `${name}${i}`);
  const prefix = blocks('p', 256);

  type Disk = NonNullable<NonNullable<EngineArgs['kvOffload']>['disk']>;
  function run(evict: boolean, hostBytes?: number, disk?: Disk): { ttftB: number; engine: Engine } {
    const sim = new Simulator(1);
    const args: EngineArgs = { ...VLLM_ENGINE, activationReserveBytes: reserve, ...(hostBytes !== undefined ? { kvOffload: { hostBytes, ...(disk ? { disk } : {}) } } : {}) };
    const engine = new Engine(sim, new EventLog({ maxLines: 10 }), { id: 'agg-0', llm, gpu, tp: 1, args, eff: defaultEfficiency(gpu) });
    expect(engine.pool.total).toBe(300);
    let ttftB = NaN;
    const seq = (id: string, hashes: string[], then?: () => void): Seq => {
      const sentAt = sim.now;
      return blockSeq(id, hashes, () => {
        if (id === 'B') ttftB = sim.now - sentAt;
        if (then) sim.schedule(1, then); // the next request a second later
      });
    };
    const b = () => engine.submit(seq('B', [...prefix, 'b0']));
    const f = () => engine.submit(seq('F', blocks('f', 298), b));
    sim.schedule(0, () => engine.submit(seq('A', [...prefix, 'a0'], evict ? f : b)));
    sim.run({ until: 100 });
    engine.check();
    return { ttftB, engine };
  }

  it('recomputes the prefix without a tier and onboards it over the host link with one', () => {
    const onGpu = run(false); // no eviction: B finds the prefix on the GPU
    const missed = run(true);
    const onHost = run(true, 556 * BLOCK_BYTES); // room for A's 257 blocks, F's 298 and B's last one
    expect(onGpu.engine.prefixHits).toEqual({ promptBlocks: 514, gpu: 256, host: 0, disk: 0, object: 0 });
    expect(missed.engine.prefixHits).toEqual({ promptBlocks: 812, gpu: 0, host: 0, disk: 0, object: 0 });
    expect(onHost.engine.prefixHits).toEqual({ promptBlocks: 812, gpu: 0, host: 256, disk: 0, object: 0 });
    // TTFT with the tier = the GPU hit's (16 tokens after 4096 cached) + 10.73741824 ms of onboarding.
    expect(onHost.ttftB - onGpu.ttftB).toBeCloseTo(10.73741824e-3, 12);
    // Recomputing 4112 tokens (~80 ms) costs more than onboarding 256 blocks and computing 16.
    expect(missed.ttftB).toBeGreaterThan(onHost.ttftB + 0.05);
    // Written through: A's 257 blocks, F's 298, and B's b0 (the prefix is there already); none evicted.
    expect(onHost.engine.hostTier!.counts).toEqual({ storedBlocks: 556, onboardedBlocks: 256, evictedBlocks: 0, droppedStores: 0 });
    // A tier of 298 blocks cannot keep A's blocks past F's 298 (F's stores push all 257 out): B finds nothing, and
    // its own 257 blocks push out 257 of F's.
    const tooSmall = run(true, 298 * BLOCK_BYTES);
    expect(tooSmall.engine.prefixHits).toEqual({ promptBlocks: 812, gpu: 0, host: 0, disk: 0, object: 0 });
    expect(tooSmall.engine.hostTier!.counts.evictedBlocks).toBe(257 + 257);
    expect(tooSmall.ttftB).toBe(missed.ttftB);
  });

  it('with no host memory, KVBM bypass mode writes GPU blocks straight to disk and reads them back from it', () => {
    // hostBytes 0 and a disk: every computed prompt block is written to disk at once (no host; the filter, on here, sits on the host-to-disk path and so lets every block by); B reads
    // its 256 prefix blocks back at 7 GB/s, 76.696 ms, as with the host tier above it.
    const onGpu = run(false);
    const bypass = run(true, 0, { bytes: 1000 * BLOCK_BYTES, readBytesPerS: 7e9, writeBytesPerS: 3.5e9, filter: true });
    expect(bypass.engine.prefixHits).toEqual({ promptBlocks: 812, gpu: 0, host: 0, disk: 256, object: 0 });
    expect(bypass.ttftB - onGpu.ttftB).toBeCloseTo(536_870_912 / 7e9, 9);
    expect(bypass.engine.hostTier!.counts.storedBlocks).toBe(0);
  });

  it('a disk tier below that small host tier keeps the prefix, read back at the disk bandwidth', () => {
    // Without KVBM's disk filter every block stored on the host goes on to disk (7 GB/s read, 3.5 GB/s write, 1000
    // blocks): A's prefix is still there when B comes, 2 s later (its 257 blocks were written in 257 x 2,097,152 /
    // 3.5e9 = 0.154 s). B reads 256 blocks = 536,870,912 B at 7e9 B/s = 76.696 ms, then runs as the GPU hit does.
    const onGpu = run(false);
    const disk: Disk = { bytes: 1000 * BLOCK_BYTES, readBytesPerS: 7e9, writeBytesPerS: 3.5e9, filter: false };
    const onDisk = run(true, 298 * BLOCK_BYTES, disk);
    expect(onDisk.engine.prefixHits).toEqual({ promptBlocks: 812, gpu: 0, host: 0, disk: 256, object: 0 });
    expect(onDisk.ttftB - onGpu.ttftB).toBeCloseTo(536_870_912 / 7e9, 9);
    // Written to disk: A's 257, F's 298 and B's b0 (the prefix is there already); read back: B's 256.
    expect(onDisk.engine.diskTier!.counts).toEqual({ storedBlocks: 556, onboardedBlocks: 256, evictedBlocks: 0, droppedStores: 0 });
    // With the filter (KVBM's default) a block goes on to disk when it reaches the host a second time: A's blocks
    // reached it once (count 1) and F's pushed them out, so B finds nothing below the GPU and recomputes, as without a
    // disk; B's write-through then brings the prefix to the host again (count 2): its 256 blocks go to disk, b0 not.
    const filtered = run(true, 298 * BLOCK_BYTES, { ...disk, filter: true });
    expect(filtered.engine.prefixHits.disk).toBe(0);
    expect(filtered.engine.diskTier!.counts.storedBlocks).toBe(256);
  });
});
