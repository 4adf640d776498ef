import { LruList } from '../engine/collections.js';
import { InvariantError } from '../errors.js';
import type { GpuSpec } from '../spec/catalog.js';
import type { BlockHash } from '../spec/experiment.js';

/**
 * A worker's host-memory KV tier below its GPU prefix cache: Dynamo KVBM's G2 (DYN_KVBM_CPU_CACHE_GB), LMCache's local
 * CPU backend, vLLM's OffloadingConnector with a CPU spec; the same class is KVBM's local-disk G3 tier below it (with
 * the disk's read and write times a block). What the model takes from them:
 *   - Write-through: a prompt's full blocks are copied to host memory once computed, asynchronously, on the GPU's
 *     device-to-host direction of its host link, beside the forward passes (KVBM's docs: a "write-through KV cache",
 *     its worker "does async onboarding/offloading at the end of the forward pass"; vLLM's OffloadingManager:
 *     prepare_store / complete_store, a stored block loadable only once its store completed). So a store never
 *     stalls a step; it only decides when the block can be found on the host.
 *   - Blocks already on the host are not written again, only refreshed in the LRU order (OffloadingManager.touch).
 *   - LRU eviction by block count (capacity = host bytes / bytes of a block on the worker's GPUs); blocks being loaded
 *     are protected from eviction (prepare_load) until the load completes; a store finding only protected blocks to
 *     evict is dropped.
 *   - Onboarding: a prompt's leading blocks not in the GPU cache but on the host are copied host-to-device before the
 *     request is scheduled (vLLM's connector reports them as externally matched tokens and the request waits for
 *     remote KV while others run), at the rate a DMA copy reaches on the host link (the GPU record's copyGBps), one
 *     copy at a time per direction. The two directions run at once but not each at full speed: while copies run both
 *     ways they reach the record's duplexGBps together, so a copy is slowed by 2 x copy / duplex (H100: 2 x 50 / 83.4 =
 *     1.2, vLLM's offloading-connector blog) for the part of it that overlaps the other direction's queued copies.
 *     The copies already queued the other way are not slowed again. The worker's TP ranks copy their shards in
 *     parallel, each over its own GPU's link, so a block costs its bytes on one rank / the copy rate.
 */
export interface HostTierConfig {
  /** Blocks the tier holds (its bytes / bytes of one block over the worker's ranks). */
  capacityBlocks: number;
  /** Seconds one block takes to write to the tier (host: its bytes on one rank over that rank's host link). */
  storeBlockS: number;
  /** Seconds one block takes to read back to the GPU (host: the same link the other way). */
  loadBlockS: number;
  /**
   * How much slower a copy runs while the other direction is busy: 2 x one-way rate / both-ways rate (1 or unset:
   * the directions do not slow each other, as a disk's reads and writes are modelled).
   */
  duplexSlowdown?: number;
}

/**
 * When `work` seconds of copying (at the one-way rate) that start at `start` finish, if the other direction is busy
 * until `otherBusyUntil` and copies run `slowdown` times slower while both directions are busy.
 */
export function copyDone(start: number, work: number, otherBusyUntil: number, slowdown: number): number {
  if (slowdown === 1 || otherBusyUntil <= start) return start + work;
  // The overlap lets (otherBusyUntil - start) / slowdown seconds of work through; the rest runs at the one-way rate.
  const overlapWork = (otherBusyUntil - start) / slowdown;
  return work <= overlapWork ? start + work * slowdown : otherBusyUntil + (work - overlapWork);
}

interface HostBlock {
  hash: BlockHash;
  /** When its store completes: found by a lookup only from then on. */
  readyAt: number;
  /** Loads in progress reading it: not evictable while > 0. */
  pins: number;
  /** Its neighbours in the tier's LRU order. */
  prev: HostBlock | null;
  next: HostBlock | null;
}

/** What the tier did over a run: blocks written, read back, evicted, and stores dropped for want of room. */
export interface HostTierCounts {
  storedBlocks: number;
  onboardedBlocks: number;
  evictedBlocks: number;
  droppedStores: number;
}

export class HostKvTier {
  /** Blocks by hash. */
  private readonly blocks = new Map<BlockHash, HostBlock>();
  /** The same blocks, least recently stored or loaded first. */
  private readonly lru = new LruList<HostBlock>();
  /** When the device-to-host and host-to-device directions of the link are next free. */
  private d2hFreeAt = 0;
  private h2dFreeAt = 0;
  readonly counts: HostTierCounts = { storedBlocks: 0, onboardedBlocks: 0, evictedBlocks: 0, droppedStores: 0 };
  private readonly slowdown: number;

  constructor(readonly cfg: HostTierConfig) {
    this.slowdown = cfg.duplexSlowdown ?? 1;
    if (!(Number.isInteger(cfg.capacityBlocks) && cfg.capacityBlocks >= 0) || !(cfg.storeBlockS >= 0) || !(cfg.loadBlockS >= 0) || !(this.slowdown >= 1)) {
      throw new InvariantError(`KV tier of ${cfg.capacityBlocks} blocks at ${cfg.storeBlockS} s a block stored, ${cfg.loadBlockS} s loaded`);
    }
  }

  get size(): number {
    return this.blocks.size;
  }

  /** How many of hashes[from], hashes[from + 1], ... (before index `upTo`) are on the host and loadable at `now`. */
  match(hashes: readonly BlockHash[], from: number, upTo: number, now: number): number {
    let k = 0;
    for (let i = from; i < upTo; i++) {
      const b = this.blocks.get(hashes[i]!);
      if (!b || b.readyAt > now) break;
      k++;
    }
    return k;
  }

  /**
   * Starts copying hashes[from .. from + n) to the GPU: protects and refreshes them, queues the copy behind the
   * host-to-device copies in flight, and returns when it completes. Call loaded() with the same blocks then.
   */
  load(hashes: readonly BlockHash[], from: number, n: number, now: number): number {
    for (let i = from; i < from + n; i++) {
      const h = hashes[i]!;
      const b = this.blocks.get(h);
      if (!b) throw new InvariantError(`onboarding block ${h}, which is not on the host`);
      b.pins++;
      this.lru.touch(b);
    }
    const done = copyDone(Math.max(now, this.h2dFreeAt), n * this.cfg.loadBlockS, this.d2hFreeAt, this.slowdown);
    this.h2dFreeAt = done;
    this.counts.onboardedBlocks += n;
    return done;
  }

  /** When a stored block can be found (its store's completion); Infinity when it is not in the tier. */
  readyAt(hash: BlockHash): number {
    return this.blocks.get(hash)?.readyAt ?? Number.POSITIVE_INFINITY;
  }

  /** A load finished (or its engine was drained): its blocks may be evicted again. */
  loaded(hashes: readonly BlockHash[], from: number, n: number): void {
    for (let i = from; i < from + n; i++) {
      const b = this.blocks.get(hashes[i]!);
      if (!b || b.pins <= 0) throw new InvariantError(`unpinning host block ${hashes[i]} with no load on it`);
      b.pins--;
    }
  }

  /**
   * Copies n blocks that are not the tier's to the GPU over the tier's link from `start` (blocks read from object
   * storage into host memory on their way to the GPU); returns when they are there.
   */
  copyIn(n: number, start: number): number {
    const done = copyDone(Math.max(start, this.h2dFreeAt), n * this.cfg.loadBlockS, this.d2hFreeAt, this.slowdown);
    this.h2dFreeAt = done;
    return done;
  }

  /**
   * Write-through of a prompt's full blocks hashes[from .. upTo), computed at `now`: those not in the tier are copied
   * there (one copy behind the writes in flight), those already there are refreshed. Returns when the copies are done
   * (`now` when there were none); the blocks copied are pushed onto `stored` if given.
   */
  store(hashes: readonly BlockHash[], upTo: number, now: number, from = 0, stored?: BlockHash[]): number {
    if (this.cfg.capacityBlocks === 0) return now; // no tier (hostBytes 0: its hits reported only)
    const fresh: BlockHash[] = [];
    // A prompt may name one block twice (a trace's repeated hash): copied once. A set, not fresh.includes(): prompts
    // run to ~8,000 blocks, and a scan per block made a long prompt's store quadratic.
    const seen = new Set<BlockHash>();
    for (let i = from; i < upTo; i++) {
      const h = hashes[i]!;
      const b = this.blocks.get(h);
      if (b) {
        this.lru.touch(b);
      } else if (!seen.has(h)) {
        seen.add(h);
        fresh.push(h);
      }
    }
    if (fresh.length === 0) return now;
    let room = this.cfg.capacityBlocks - this.blocks.size;
    if (room < fresh.length) room += this.evict(fresh.length - room);
    const n = Math.min(room, fresh.length);
    this.counts.droppedStores += fresh.length - n;
    if (n <= 0) return now;
    const done = copyDone(Math.max(now, this.d2hFreeAt), n * this.cfg.storeBlockS, this.h2dFreeAt, this.slowdown);
    this.d2hFreeAt = done;
    for (let i = 0; i < n; i++) {
      const b: HostBlock = { hash: fresh[i]!, readyAt: done, pins: 0, prev: null, next: null };
      this.blocks.set(b.hash, b);
      this.lru.push(b);
      stored?.push(b.hash);
    }
    this.counts.storedBlocks += n;
    return done;
  }

  /** Evicts up to `want` unprotected blocks, oldest first; returns how many went. */
  private evict(want: number): number {
    let gone = 0;
    for (let b = this.lru.oldest; b && gone < want; ) {
      const next = b.next;
      if (b.pins === 0) {
        this.lru.remove(b);
        this.blocks.delete(b.hash);
        gone++;
      }
      b = next;
    }
    this.counts.evictedBlocks += gone;
    return gone;
  }

  /** A restarted worker comes back with an empty tier (its process's pinned memory, or the cache files it made). */
  clear(): void {
    this.blocks.clear();
    this.lru.clear();
    this.d2hFreeAt = 0;
    this.h2dFreeAt = 0;
  }

  check(name: string): void {
    if (this.blocks.size > this.cfg.capacityBlocks) {
      throw new InvariantError(`no pool goes over capacity: ${name}'s KV tier holds ${this.blocks.size} of ${this.cfg.capacityBlocks} blocks`);
    }
  }
}

/**
 * The host tier's copy timing for blocks of `blockBytes` on one rank over `gpu`'s host link: a block each way at the
 * link's DMA copy rate, slowed while copies run both ways. The engine's host tier and `fidelity`'s copy records use
 * this, so a record checks the engine's own figures.
 */
export function hostCopyTiming(gpu: GpuSpec, blockBytes: number): Pick<HostTierConfig, 'storeBlockS' | 'loadBlockS' | 'duplexSlowdown'> {
  const link = gpu.hostLink;
  const blockS = blockBytes / link.copyBandwidth;
  return { storeBlockS: blockS, loadBlockS: blockS, duplexSlowdown: (2 * link.copyBandwidth) / link.duplexBandwidth };
}

export const COPY_DIRECTIONS = ['to-host', 'to-gpu', 'both'] as const;
export type CopyDirection = (typeof COPY_DIRECTIONS)[number];

/**
 * A copy microbenchmark run through a host tier (vLLM's gpu_cpu_benchmark, one transfer of `bytes` in blocks of
 * `blockBytes`): to the host, to the GPU, or `bytes` each way at once. Seconds from the first copy's start to the
 * last one's end, and the bytes moved over them.
 */
export function estimateHostCopy(gpu: GpuSpec, direction: CopyDirection, bytes: number, blockBytes: number): { ms: number; effectiveGBps: number } {
  const n = Math.ceil(bytes / blockBytes);
  const tier = new HostKvTier({ capacityBlocks: 2 * n, ...hostCopyTiming(gpu, blockBytes) });
  const hashes = Array.from({ length: 2 * n }, (_, i) => i);
  // Blocks to load must be on the host first: stored before the copies timed, which then start at `t0`.
  let t0 = 0;
  if (direction !== 'to-host') {
    tier.store(hashes, n, 0);
    t0 = tier.readyAt(hashes[n - 1]!);
  }
  let end = t0;
  if (direction !== 'to-gpu') {
    tier.store(hashes, 2 * n, t0, n);
    end = Math.max(end, tier.readyAt(hashes[2 * n - 1]!));
  }
  if (direction !== 'to-host') end = Math.max(end, tier.load(hashes, 0, n, t0));
  const moved = (direction === 'both' ? 2 : 1) * n * blockBytes;
  const s = end - t0;
  return { ms: s * 1e3, effectiveGBps: moved / s / 1e9 };
}
