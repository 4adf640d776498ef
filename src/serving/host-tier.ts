import { InvariantError } from '../errors.js';
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
 *     remote KV while others run), at the host link's bandwidth, one copy at a time per direction (PCIe and C2C are
 *     full duplex: onboarding and offloading do not share bandwidth). The worker's TP ranks copy their shards in
 *     parallel, each over its own GPU's link, so a block costs its bytes on one rank / the link bandwidth.
 */
export interface HostTierConfig {
  /** Blocks the tier holds (its bytes / bytes of one block over the worker's ranks). */
  capacityBlocks: number;
  /** Seconds one block takes to write to the tier (host: its bytes on one rank over that rank's host link). */
  storeBlockS: number;
  /** Seconds one block takes to read back to the GPU (host: the same link the other way). */
  loadBlockS: number;
}

interface HostBlock {
  /** When its store completes: found by a lookup only from then on. */
  readyAt: number;
  /** Loads in progress reading it: not evictable while > 0. */
  pins: number;
}

/** What the tier did over a run: blocks written, read back, evicted, and stores dropped for want of room. */
export interface HostTierCounts {
  storedBlocks: number;
  onboardedBlocks: number;
  evictedBlocks: number;
  droppedStores: number;
}

export class HostKvTier {
  /** Blocks by hash, in LRU order (oldest first). */
  private readonly blocks = new Map<BlockHash, HostBlock>();
  /** When the device-to-host and host-to-device directions of the link are next free. */
  private d2hFreeAt = 0;
  private h2dFreeAt = 0;
  readonly counts: HostTierCounts = { storedBlocks: 0, onboardedBlocks: 0, evictedBlocks: 0, droppedStores: 0 };

  constructor(readonly cfg: HostTierConfig) {
    if (!(Number.isInteger(cfg.capacityBlocks) && cfg.capacityBlocks >= 0) || !(cfg.storeBlockS >= 0) || !(cfg.loadBlockS >= 0)) {
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
      this.blocks.delete(h);
      this.blocks.set(h, b);
    }
    const done = Math.max(now, this.h2dFreeAt) + n * this.cfg.loadBlockS;
    this.h2dFreeAt = done;
    this.counts.onboardedBlocks += n;
    return done;
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
   * Write-through of a prompt's full blocks hashes[from .. upTo), computed at `now`: those not in the tier are copied
   * there (one copy behind the writes in flight), those already there are refreshed.
   */
  store(hashes: readonly BlockHash[], upTo: number, now: number, from = 0): void {
    if (this.cfg.capacityBlocks === 0) return; // no tier (hostBytes 0: its hits reported only)
    const fresh: BlockHash[] = [];
    // A prompt may name one block twice (a trace's repeated hash): copied once. A set, not fresh.includes(): prompts
    // run to ~8,000 blocks, and a scan per block made a long prompt's store quadratic.
    const seen = new Set<BlockHash>();
    for (let i = from; i < upTo; i++) {
      const h = hashes[i]!;
      const b = this.blocks.get(h);
      if (b) {
        this.blocks.delete(h);
        this.blocks.set(h, b);
      } else if (!seen.has(h)) {
        seen.add(h);
        fresh.push(h);
      }
    }
    if (fresh.length === 0) return;
    let room = this.cfg.capacityBlocks - this.blocks.size;
    if (room < fresh.length) room += this.evict(fresh.length - room);
    const n = Math.min(room, fresh.length);
    this.counts.droppedStores += fresh.length - n;
    if (n <= 0) return;
    const done = Math.max(now, this.d2hFreeAt) + n * this.cfg.storeBlockS;
    this.d2hFreeAt = done;
    for (let i = 0; i < n; i++) this.blocks.set(fresh[i]!, { readyAt: done, pins: 0 });
    this.counts.storedBlocks += n;
  }

  /** Evicts up to `want` unprotected blocks, oldest first; returns how many went. */
  private evict(want: number): number {
    let gone = 0;
    for (const [h, b] of this.blocks) {
      if (gone >= want) break;
      if (b.pins > 0) continue;
      this.blocks.delete(h);
      gone++;
    }
    this.counts.evictedBlocks += gone;
    return gone;
  }

  /** A restarted worker comes back with an empty tier (its process's pinned memory, or the cache files it made). */
  clear(): void {
    this.blocks.clear();
    this.d2hFreeAt = 0;
    this.h2dFreeAt = 0;
  }

  check(name: string): void {
    if (this.blocks.size > this.cfg.capacityBlocks) {
      throw new InvariantError(`no pool goes over capacity: ${name}'s KV tier holds ${this.blocks.size} of ${this.cfg.capacityBlocks} blocks`);
    }
  }
}
