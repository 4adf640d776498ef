import { Deque } from './deque.js';
import type { AllToAllSpec, GpuSpec, LlmSpec, NodeSpec } from '../spec/catalog.js';
import { Bag, removeAt, truncate, type Simulator } from '../engine/index.js';
import { InvariantError, UserError } from '../errors.js';
import type { EventLog } from '../metrics/event-log.js';
import { preemptedLine } from '../metrics/event-log.js';
import { isPlainTp, kvBytesPerTokenPerRank, maxCaptureSize, MoeStepCost, resolveSpeculative, StepCost, weightBytesPerGpu, type Efficiency, type StepWork } from '../physics/index.js';
import type { AllToAllMode, BlockHash, EngineArgs } from '../spec/experiment.js';
import { hostCopyTiming, HostKvTier } from './host-tier.js';
import type { ObjectKvStore } from './object-store.js';
import { FrequencyFilter } from './offload-filter.js';
import { KvBlockPool } from './kv-pool.js';
import { SpeculativeDecoder } from './speculative.js';

/**
 * A vLLM-like engine on one TP group: a continuous-batching scheduler with a token budget per step (chunked prefill),
 * a cap on running sequences, a KV block pool sized from GPU memory, preemption by recompute when blocks run out, and
 * prefix caching by block hash. Each step is one event whose duration comes from src/physics.
 */
export interface Seq {
  id: string;
  /** Tokens whose KV must be computed here before decoding (0 when the KV arrived from a prefill worker). */
  promptTokens: number;
  /** Tokens of KV already present: computed, loaded, or found in the prefix cache. */
  prefilled: number;
  /** Output tokens produced so far (kept across preemption). */
  generated: number;
  /** Output tokens this engine must produce (1 on a prefill worker: max_tokens=1). */
  target: number;
  /** Block hashes of the prompt's full blocks, for prefix caching. */
  hashes?: BlockHash[];
  /** Owned KV blocks. */
  blocks: number;
  /** Cached blocks referenced (prefix hits and committed prompt blocks). */
  cachedRefs: BlockHash[];
  state: 'waiting' | 'reserved' | 'loading' | 'running' | 'held' | 'done';
  /** Keep the blocks when finished (prefill worker: decode reads them later; release with releaseHeld). */
  holdOnFinish: boolean;
  /** Time the engine first scheduled it (queue wait ends). */
  scheduledAt?: number;
  /** The engine's: its position among the engine's reserved or held sequences (a Bag); absent or -1 when in neither. */
  bagAt?: number;
  onToken?: (seq: Seq, first: boolean) => void;
  onFinish?: (seq: Seq) => void;
}

/** A prefill chunk of a step: `tokens` computed for `seq` after the `cached` tokens already in its KV. */
interface Chunk {
  seq: Seq;
  tokens: number;
  cached: number;
}

export interface EngineConfig {
  id: string;
  llm: LlmSpec;
  gpu: GpuSpec;
  tp: number;
  args: EngineArgs;
  eff: Efficiency;
  /** A disaggregated decode worker, whose KV connector (pulling the KV) costs host time every step. */
  connector?: boolean;
  /**
   * The node the worker runs on: a TP group wider than its NVLink domain (the node, or the rack of a GB200 NVL72) spans
   * nodes over the NICs, and its all-reduces cross them.
   */
  node?: NodeSpec;
  /**
   * A MoE worker of `dp` data-parallel ranks of tp GPUs and an expert group of `ep` (src/physics/moe.ts), with the
   * all-to-all kernels its EP runs. `args` are then the worker's: each rank's budgets times dp. Absent: dp 1, ep 1.
   */
  parallel?: { dp: number; ep: number; allToAll?: { spec: AllToAllSpec; mode: AllToAllMode } };
  /** The deployment's object store below the host tier (kvOffload.object: KVBM's G4), shared with the other workers. */
  objectStore?: ObjectKvStore;
}

/**
 * The engine arguments of a worker of `dp` data-parallel ranks, scheduled as one engine: vLLM applies
 * max_num_seqs and max_num_batched_tokens to each rank (data_parallel_deployment.md: "--max-num-seqs applies per DP
 * rank"), so the worker's are dp times them, and a prompt, which one rank prefills, takes at most one rank's budget a
 * step (as long_prefill_token_threshold caps it). dp 1 leaves them as they are.
 */
export function dataParallelArgs(args: EngineArgs, dp: number): EngineArgs {
  if (dp <= 1) return args;
  const threshold = args.longPrefillTokenThreshold ?? 0;
  return {
    ...args,
    maxNumSeqs: args.maxNumSeqs * dp,
    maxNumBatchedTokens: args.maxNumBatchedTokens * dp,
    longPrefillTokenThreshold: threshold > 0 ? Math.min(threshold, args.maxNumBatchedTokens) : args.maxNumBatchedTokens,
  };
}

/** The worker's parallelism: its TP, DP ranks and expert group. */
function parallelismOf(cfg: EngineConfig, tp = cfg.tp): { tp: number; dp: number; ep: number } {
  return { tp, dp: cfg.parallel?.dp ?? 1, ep: cfg.parallel?.ep ?? 1 };
}

/**
 * KV blocks that fit on each rank of a worker at this TP after weights and the activation reserve (< 1: none); with
 * DP ranks, each rank's pool times dp (each rank keeps its own KV cache).
 */
function blocksAt(cfg: EngineConfig, tp: number): number {
  const { llm, gpu, args } = cfg;
  const p = parallelismOf(cfg, tp);
  const budget = gpu.hbmBytes * args.gpuMemoryUtilization - weightBytesPerGpu(llm, p) - args.activationReserveBytes;
  return Math.floor(budget / (args.blockSize * kvBytesPerTokenPerRank(llm, tp))) * p.dp;
}

export function kvPoolBlocks(cfg: EngineConfig): number {
  const { llm, gpu, tp, args } = cfg;
  const p = parallelismOf(cfg);
  const blocks = blocksAt(cfg, tp);
  if (blocks < 1) {
    const where = isPlainTp(p) ? `TP${tp}` : `TP${tp} x DP${p.dp}${p.ep > 1 ? ` (EP${p.ep})` : ''}`;
    throw new UserError(
      `${llm.id} at ${where} does not fit on ${gpu.id}: ${(gpu.hbmBytes * args.gpuMemoryUtilization / 1e9).toFixed(1)} GB usable per GPU, ` +
        `${(weightBytesPerGpu(llm, p) / 1e9).toFixed(1)} GB of weights per ${isPlainTp(p) ? 'rank' : 'GPU'}, no room for a KV block; ${isPlainTp(p) ? fitsFrom(cfg) : `give the worker more GPUs (dp) or fewer weights`}`,
    );
  }
  return blocks;
}

/** Where a worker that does not fit at its TP would: "it fits from TP2", or that no TP up to 16 it can be split at does. */
function fitsFrom(cfg: EngineConfig): string {
  const tried: number[] = [];
  for (let t = cfg.tp * 2; t <= 16; t *= 2) {
    try {
      if (blocksAt(cfg, t) >= 1) return `it fits from TP${t}`;
      tried.push(t);
    } catch (err) {
      if (!(err instanceof UserError)) throw err; // a TP the model's KV heads cannot be split over
    }
  }
  return tried.length > 0 ? `nor does it at TP${tried.join(', TP')}` : 'and no larger TP splits its KV heads';
}

export class Engine {
  readonly pool: KvBlockPool;
  /** How long a step takes here (src/physics): StepCost, or MoeStepCost for a worker with DP ranks or EP. */
  private readonly cost: { seconds(work: StepWork): number };
  /** Speculative decoding (deployment.engine.speculative), if on: drafts, their cost and their acceptance. */
  private readonly spec: SpeculativeDecoder | undefined;
  /** FIFO of sequences to admit (a preempted one goes back to the front): O(1) at both ends however long it grows. */
  private readonly waiting = new Deque<Seq>();
  /** Sequences waiting for blocks to receive `tokens` of remote KV, with what to do once they have them. */
  private readonly toReserve: { seq: Seq; tokens: number; onReserved: () => void }[] = [];
  private readonly running: Seq[] = [];
  /** Sequences holding blocks while their KV arrives; they count against maxNumSeqs. */
  private readonly reserved = new Bag<Seq>();
  /** Finished prefill sequences keeping their blocks for decode to read (holdOnFinish). */
  private readonly held = new Bag<Seq>();
  /**
   * Admitted sequences whose prefix is being onboarded from a tier below the GPU: where the host blocks begin, how many,
   * and how many disk blocks follow them (object-store blocks, never evicted, need no bookkeeping).
   */
  private readonly loading = new Map<Seq, { from: number; n: number; diskN: number }>();
  /** Sequences waiting aside for an object-store check (popped from the queue, put back at its front when done). */
  private readonly inSearch = new Set<Seq>();
  /** Object-store checks made, by sequence, until it is admitted: where the check began and the blocks found from there. */
  private readonly searched = new Map<Seq, { from: number; found: number }>();
  /** Bytes of one block over the worker's ranks (what a disk or object-store tier moves a block). */
  private readonly blockBytes: number;
  /** The host-memory KV tier below the prefix cache (deployment.engine.kvOffload), if any. */
  readonly hostTier: HostKvTier | undefined;
  /** The local-disk KV tier below the host tier (kvOffload.disk), if any. */
  readonly diskTier: HostKvTier | undefined;
  /** KVBM's disk offload filter for host blocks on their way to disk (kvOffload.disk.filter), if on. */
  private readonly diskFilter: FrequencyFilter | undefined;
  /** Scratch: the blocks a write-through stored on the host, then those of them going on to disk. */
  private readonly toHost: BlockHash[] = [];
  private readonly toDisk: BlockHash[] = [];
  /** Full prompt blocks of the sequences admitted with hashes, and where they were found (summary's prefixCache). */
  readonly prefixHits = { promptBlocks: 0, gpu: 0, host: 0, disk: 0, object: 0 };
  /**
   * The step in flight (one at a time), read back by finishStep: its prefill chunks, the sequences it decodes, and
   * their context lengths (for stepTime). Refilled by every step() and shortened with truncate() instead of allocated
   * anew: a step is the kernel's most frequent event.
   */
  private readonly chunks: Chunk[] = [];
  private readonly decoding: Seq[] = [];
  private readonly work: { prefill: Chunk[]; decode: number[]; decodeQueries?: readonly number[] } = { prefill: this.chunks, decode: [] };
  private stepping = false;
  /** Bumped when the engine is drained, so that a step in progress then finishes into nothing. */
  private epoch = 0;
  private busyS = 0;
  stepsRun = 0;
  dead = false;

  constructor(
    readonly sim: Simulator,
    readonly log: EventLog,
    readonly cfg: EngineConfig,
  ) {
    this.pool = new KvBlockPool(kvPoolBlocks(cfg));
    const p = parallelismOf(cfg);
    const offload = cfg.args.kvOffload;
    this.blockBytes = cfg.args.blockSize * kvBytesPerTokenPerRank(cfg.llm, cfg.tp) * cfg.tp;
    if (offload) {
      // A block lives on each of a DP rank's tp GPUs (its shard of the heads, or MLA's whole latent copy on each).
      const perRank = cfg.args.blockSize * kvBytesPerTokenPerRank(cfg.llm, cfg.tp);
      // A DMA copy's rate each way, slower while copies run both ways (the GPU record's measured host-link rates).
      this.hostTier = new HostKvTier({ capacityBlocks: Math.floor(offload.hostBytes / (perRank * cfg.tp)), ...hostCopyTiming(cfg.gpu, perRank) });
      // The disk is the worker's: a block is all its ranks' shards through the worker's share of the disks.
      const disk = offload.disk;
      if (disk) {
        const bytes = this.blockBytes;
        this.diskTier = new HostKvTier({ capacityBlocks: Math.floor(disk.bytes / bytes), storeBlockS: bytes / disk.writeBytesPerS, loadBlockS: bytes / disk.readBytesPerS });
      }
    }
    // The filter sits on the host -> disk path; with no host tier (KVBM's bypass mode) blocks go to disk unfiltered.
    this.diskFilter = offload?.disk && offload.hostBytes > 0 && (offload.disk.filter ?? true) ? new FrequencyFilter() : undefined;
    const ctx = {
      enforceEager: cfg.args.enforceEager ?? false,
      // CUDA graphs are captured per engine core: with DP ranks, each rank's share of the worker's budgets.
      maxCaptureSize: maxCaptureSize(cfg.args.maxNumSeqs / p.dp, cfg.args.maxNumBatchedTokens / p.dp),
      connector: cfg.connector ?? false,
      ...(cfg.node
        ? {
            node: {
              gpusPerNode: cfg.node.gpusPerNode,
              nicBandwidthPerGpu: (cfg.node.nics.count * cfg.node.nics.bandwidth) / cfg.node.gpusPerNode,
              nvlinkDomainGpus: cfg.node.nvlinkDomainGpus,
            },
          }
        : {}),
    };
    const fabric = ctx.node ? { ...ctx.node, nvlinkBandwidth: cfg.gpu.nvlinkBandwidth } : undefined;
    const costOf = (llm: LlmSpec, eff: Efficiency) =>
      isPlainTp(p)
        ? new StepCost(llm, cfg.gpu, cfg.tp, eff, ctx)
        : new MoeStepCost(llm, cfg.gpu, p, eff, { ...ctx, ...(fabric ? { fabric } : {}), ...(cfg.parallel?.allToAll ? { allToAll: cfg.parallel.allToAll } : {}) });
    this.cost = costOf(cfg.llm, cfg.eff);
    const sp = cfg.args.speculative;
    this.spec = sp ? new SpeculativeDecoder(resolveSpeculative(cfg.llm, sp), cfg.llm, cfg.eff, costOf, sim.rng(`speculative:${cfg.id}`)) : undefined;
  }

  get id(): string {
    return this.cfg.id;
  }

  /** Requests on this engine: queued, waiting for blocks or running. The least-loaded router counts these. */
  /**
   * The engine's own profile, as Dynamo's profiler measures one before deployment: seconds to prefill a lone prompt
   * of `isl` tokens (in chunks of the step budget), and of a decode step of `batch` sequences at `context` tokens each.
   * The autoscaler's SLA mode reads them (src/serving/autoscale.ts).
   */
  prefillSeconds(isl: number): number {
    const budget = this.cfg.args.maxNumBatchedTokens;
    let t = 0;
    for (let done = 0; done < isl; done += budget) t += this.cost.seconds({ prefill: [{ tokens: Math.min(budget, isl - done), cached: done }], decode: [] });
    return t;
  }

  decodeStepSeconds(batch: number, context: number): number {
    return this.cost.seconds({ prefill: [], decode: new Array<number>(batch).fill(context) });
  }

  /** Requests waiting to be scheduled (not yet started, or preempted; those waiting on an object-store check too). */
  get queued(): number {
    return this.waiting.size + this.inSearch.size;
  }

  get load(): number {
    return this.waiting.size + this.inSearch.size + this.toReserve.length + this.running.length;
  }

  get busyTime(): number {
    return this.busyS;
  }

  blocksFor(tokens: number): number {
    return Math.ceil(tokens / this.cfg.args.blockSize);
  }

  /** Queue a sequence to prefill (and decode) here. */
  submit(seq: Seq): void {
    seq.state = 'waiting';
    this.waiting.pushBack(seq);
    this.kick();
  }

  /**
   * Decode side of a disaggregated request: allocate blocks for `tokens` of remote KV, then call onReserved. The
   * sequence does nothing until activate() (the KV arrived) or it is given a prompt to compute (fallback).
   */
  reserve(seq: Seq, tokens: number, onReserved: () => void): void {
    seq.state = 'waiting';
    seq.prefilled = 0;
    this.toReserve.push({ seq, tokens, onReserved });
    this.tryReserve();
  }

  private tryReserve(): void {
    while (this.toReserve.length > 0 && this.running.length + this.reserved.size + this.loading.size < this.cfg.args.maxNumSeqs) {
      const { seq, tokens, onReserved } = this.toReserve[0]!;
      const need = this.blocksFor(tokens);
      if (!this.pool.allocate(need)) return;
      this.toReserve.shift();
      seq.blocks = need;
      seq.state = 'reserved';
      this.reserved.add(seq);
      onReserved();
    }
  }

  /** The remote KV arrived (prefilled = its tokens), or fell back (promptTokens set, prefilled 0): start running. */
  activate(seq: Seq): void {
    if (seq.state !== 'reserved') throw new InvariantError(`activating ${seq.id} in state ${seq.state}`);
    this.reserved.delete(seq);
    seq.state = 'running';
    this.running.push(seq);
    this.kick();
  }

  /** Gives up a reserved sequence (its request failed): frees its blocks. */
  abandon(seq: Seq): void {
    if (seq.state === 'reserved') {
      this.reserved.delete(seq);
      this.pool.release(seq.blocks);
      seq.blocks = 0;
      seq.state = 'done';
      this.tryReserve();
      this.kick();
    }
  }

  /** A prefill worker's finished request: decode has read its blocks, or they expired. */
  releaseHeld(seq: Seq): void {
    if (seq.state !== 'held') return;
    this.held.delete(seq);
    this.freeBlocks(seq);
    seq.state = 'done';
    this.tryReserve();
    this.kick();
  }

  /**
   * Fails everything on the engine (worker died or restarting): drops its queues, frees the blocks of what was
   * running, and abandons the step in progress. Returns the sequences it dropped. Reserved sequences keep their blocks
   * until abandon() (their KV load is still to finish), held ones until releaseHeld().
   */
  drain(): Seq[] {
    const all = [...this.waiting, ...this.inSearch, ...this.toReserve.map((r) => r.seq), ...this.loading.keys(), ...this.running];
    for (const s of this.running) this.freeBlocks(s);
    for (const [s, l] of this.loading) {
      this.unpin(s, l);
      this.freeBlocks(s);
    }
    this.loading.clear();
    this.waiting.clear();
    this.inSearch.clear();
    this.searched.clear();
    this.toReserve.length = 0;
    this.running.length = 0;
    this.dead = true;
    this.stepping = false;
    this.epoch++;
    for (const s of all) s.state = 'done';
    return all;
  }

  /** A restarted worker is back: empty, with an empty prefix cache, taking work again. */
  revive(): void {
    if (!this.dead) return;
    this.pool.dropIdle();
    this.hostTier?.clear();
    this.diskTier?.clear();
    this.diskFilter?.clear();
    this.dead = false;
    this.kick();
  }

  /**
   * The engine's books (invariants): no count negative or over its cap, and the pool's owned blocks are exactly those
   * of the sequences holding them. O(sequences on the engine).
   */
  check(): void {
    this.pool.check(`${this.id}'s KV pool`);
    this.hostTier?.check(`${this.id} (host)`);
    this.diskTier?.check(`${this.id} (disk)`);
    const cap = this.cfg.args.maxNumSeqs;
    if (this.running.length + this.reserved.size + this.loading.size > cap) {
      throw new InvariantError(`no queue goes over its cap: ${this.id} has ${this.running.length} running + ${this.reserved.size} reserved + ${this.loading.size} loading > maxNumSeqs ${cap}`);
    }
    let blocks = 0;
    for (const set of [this.running, this.reserved, this.held, this.loading.keys()]) {
      for (const s of set) {
        if (s.blocks < 0) throw new InvariantError(`no pool goes negative: ${this.id} sequence ${s.id} owns ${s.blocks} blocks`);
        blocks += s.blocks;
      }
    }
    if (blocks !== this.pool.ownedBlocks) {
      throw new InvariantError(
        `KV blocks are owned by exactly the sequences holding them: ${this.id}'s pool says ${this.pool.ownedBlocks} owned, ` +
          `its ${this.running.length} running, ${this.reserved.size} reserved, ${this.loading.size} loading and ${this.held.size} held sequences own ${blocks}`,
      );
    }
  }

  private kick(): void {
    if (!this.stepping && !this.dead && (this.running.length > 0 || this.waiting.size > 0)) this.step();
  }

  private freeBlocks(seq: Seq): void {
    this.pool.release(seq.blocks);
    seq.blocks = 0;
    if (seq.cachedRefs.length) this.pool.unref(seq.cachedRefs);
    seq.cachedRefs = [];
  }

  /** Preempts the most recently admitted running sequence (vLLM's recompute preemption): it starts over later. */
  private preemptOne(): boolean {
    const victim = this.running.pop();
    if (!victim) return false;
    this.freeBlocks(victim);
    victim.promptTokens = victim.promptTokens + victim.generated;
    victim.prefilled = 0;
    victim.state = 'waiting';
    this.waiting.pushFront(victim);
    this.log.emit('preempted', { time: this.sim.now, component: this.id, line: preemptedLine(victim.id), requestId: victim.id });
    return true;
  }

  /** An object-store check finished: the sequence goes back to the front of the queue, its result kept for admit(). */
  private readonly searchDone = (e: { seq: Seq; epoch: number }): void => {
    if (e.epoch !== this.epoch || !this.inSearch.delete(e.seq)) return;
    this.waiting.pushFront(e.seq);
    this.kick();
  };

  /**
   * Admits a waiting sequence if its blocks fit: true; 'loading' when part of its prefix comes from a tier below the
   * GPU first; 'searching' when it waits aside for an object-store check.
   */
  private admit(seq: Seq): boolean | 'loading' | 'searching' {
    const args = this.cfg.args;
    let hit = 0;
    let onHost = 0;
    let onDisk = 0;
    let onObject = 0;
    const lookup = args.prefixCaching && seq.hashes !== undefined && seq.prefilled === 0 && seq.generated === 0;
    if (lookup) {
      // Never take the whole prompt from cache: the last token must be computed to produce logits.
      const cap = Math.min(Math.floor((seq.promptTokens - 1) / args.blockSize), seq.hashes!.length);
      hit = Math.min(this.pool.matchPrefix(seq.hashes!), cap);
      // Then the tiers below, in KVBM's lookup order: host memory, then disk, each continuing the prefix.
      if (this.hostTier) onHost = this.hostTier.match(seq.hashes!, hit, cap, this.sim.now);
      if (this.diskTier) onDisk = this.diskTier.match(seq.hashes!, hit + onHost, cap, this.sim.now);
      // Then object storage, for what is left: every such block checked (one HEAD each) before the request can be
      // scheduled. Meanwhile it waits aside, holding no blocks, and the queue behind it goes on (vLLM's scheduler skips
      // a request whose connector has not yet counted its external tokens); it comes back to the front with the result.
      const store = this.cfg.objectStore;
      const from = hit + onHost + onDisk;
      if (store && from < cap) {
        const prior = this.searched.get(seq);
        if (prior === undefined) {
          const c = store.check(seq.hashes!, from, cap, this.cfg.tp, this.sim.now);
          this.searched.set(seq, { from, found: c.found });
          this.sim.schedule(c.doneAt - this.sim.now, this.searchDone, { seq, epoch: this.epoch });
          return 'searching';
        }
        // The blocks found continue the prefix if the tiers above still reach where the check began.
        onObject = from >= prior.from ? Math.max(0, Math.min(prior.from + prior.found, cap) - from) : 0;
      }
    }
    const need = this.blocksFor(seq.promptTokens + 1) - hit;
    // The hit's idle blocks count against the room, and are taken before the new blocks: making room must not evict
    // them (vLLM's KVCacheManager.allocate_slots counts the evictable computed blocks, then touches them, then allocates).
    if (hit > 0) {
      if (need + this.pool.idleAmong(seq.hashes!, hit) > this.pool.available) return false;
      this.pool.acquire(seq.hashes!, hit);
      if (!this.pool.allocate(need)) throw new InvariantError(`${this.id}: ${need} blocks did not fit after ${hit} prefix blocks were taken`);
      seq.cachedRefs = seq.hashes!.slice(0, hit);
      seq.prefilled = hit * args.blockSize;
    } else if (!this.pool.allocate(need)) {
      return false;
    }
    seq.blocks = need;
    this.searched.delete(seq);
    if (lookup) {
      const h = this.prefixHits;
      h.promptBlocks += Math.min(seq.hashes!.length, Math.floor(seq.promptTokens / args.blockSize));
      h.gpu += hit;
      h.host += onHost;
      h.disk += onDisk;
      h.object += onObject;
    }
    if (onHost + onDisk + onObject > 0) {
      // The host blocks go into the new GPU blocks over the host link, the disk blocks straight from disk (KVBM's G3
      // onboarding, a NIXL read); the sequence runs once both are there.
      const now = this.sim.now;
      const hostDone = onHost > 0 ? this.hostTier!.load(seq.hashes!, hit, onHost, now) : now;
      const diskDone = onDisk > 0 ? this.diskTier!.load(seq.hashes!, hit + onHost, onDisk, now) : now;
      // Object-store hits are read into host memory, then copied to the GPU as host hits are (G4 -> G2 -> G1).
      const objectDone = onObject > 0 ? this.hostTier!.copyIn(onObject, this.cfg.objectStore!.read(onObject, this.blockBytes, now)) : now;
      seq.prefilled = (hit + onHost + onDisk + onObject) * args.blockSize;
      seq.state = 'loading';
      this.loading.set(seq, { from: hit, n: onHost, diskN: onDisk });
      this.sim.schedule(Math.max(hostDone, diskDone, objectDone) - now, this.loadDone, { seq, epoch: this.epoch });
      return 'loading';
    }
    return true;
  }

  /** A load's blocks may be evicted from their tiers again (it finished, or its engine was drained). */
  private unpin(s: Seq, l: { from: number; n: number; diskN: number }): void {
    if (l.n > 0) this.hostTier!.loaded(s.hashes!, l.from, l.n);
    if (l.diskN > 0) this.diskTier!.loaded(s.hashes!, l.from + l.n, l.diskN);
  }

  /** A sequence's prefix is on the GPU: it joins the running batch (a load of an earlier epoch was drained with it). */
  private readonly loadDone = (e: { seq: Seq; epoch: number }): void => {
    if (e.epoch !== this.epoch) return;
    const l = this.loading.get(e.seq);
    if (!l) return;
    this.loading.delete(e.seq);
    this.unpin(e.seq, l);
    e.seq.state = 'running';
    this.running.push(e.seq);
    this.kick();
  };

  /** New prompt tokens a sequence may take this step: its rest, capped by long_prefill_token_threshold and the budget. */
  private chunkOf(s: Seq, budget: number): number {
    const args = this.cfg.args;
    const rest = s.promptTokens - s.prefilled;
    if (!args.chunkedPrefill) return rest;
    const threshold = args.longPrefillTokenThreshold ?? 0;
    return Math.min(budget, threshold > 0 ? Math.min(rest, threshold) : rest);
  }

  private step(): void {
    const args = this.cfg.args;
    // Decodes first: each running, fully prefilled sequence needs room for one more token.
    let preempted = false;
    for (let i = 0; i < this.running.length; i++) {
      const s = this.running[i]!;
      if (s.prefilled < s.promptTokens) continue;
      // With speculative decoding, slots for the k drafts it verifies too (vLLM's num_lookahead_tokens).
      const ctx = s.prefilled + s.generated + 1 + (this.spec ? this.spec.k : 0);
      while (ctx > (s.blocks + s.cachedRefs.length) * args.blockSize) {
        if (this.pool.allocate(1)) {
          s.blocks++;
          continue;
        }
        const last = this.running.length - 1;
        preempted = this.preemptOne() || preempted;
        if (last === i) break; // preempted itself
      }
    }
    let budget = args.maxNumBatchedTokens;
    const { chunks, decoding } = this;
    const decode = this.work.decode;
    let decodes = 0;
    for (const s of this.running) {
      if (s.prefilled >= s.promptTokens && budget > 0) {
        decode[decodes] = s.prefilled + s.generated;
        decoding[decodes++] = s;
        budget -= this.spec ? this.spec.take(decodes - 1, budget) : 1;
      }
    }
    this.spec?.attach(this.work, decodes);
    truncate(decode, decodes);
    truncate(decoding, decodes);
    let prefills = 0;
    for (const s of this.running) {
      if (s.prefilled < s.promptTokens && budget > 0) {
        const n = this.chunkOf(s, budget);
        chunks[prefills++] = { seq: s, tokens: n, cached: s.prefilled };
        budget -= n;
      }
    }
    // vLLM's scheduler admits no waiting request in a step that had to preempt one (scheduler.py: `if not preempted_reqs`).
    while (!preempted && this.waiting.size > 0 && budget > 0 && this.running.length + this.reserved.size + this.loading.size < args.maxNumSeqs) {
      const s = this.waiting.front()!;
      const admitted = this.admit(s);
      if (!admitted) break;
      this.waiting.popFront();
      if (admitted === 'searching') {
        this.inSearch.add(s);
        continue;
      }
      s.scheduledAt ??= this.sim.now;
      if (admitted === 'loading') continue; // joins the batch once its prefix is onboarded
      s.state = 'running';
      this.running.push(s);
      const n = this.chunkOf(s, budget);
      chunks[prefills++] = { seq: s, tokens: n, cached: s.prefilled };
      budget -= n;
    }
    truncate(chunks, prefills);
    if (decodes === 0 && prefills === 0) {
      // A step that preempted everything it had runs nothing; the next one admits from the queue (vLLM schedules again
      // at once), rather than the engine falling idle with requests waiting.
      if (preempted && this.waiting.size > 0) return this.step();
      this.stepping = false;
      return;
    }
    this.stepping = true;
    let t = this.cost.seconds(this.work);
    if (this.spec) t += this.spec.draftSeconds(this.work);
    this.busyS += t;
    this.stepsRun++;
    this.sim.schedule(t, this.stepDone, this.epoch);
  }

  /** A step's end; a step of an earlier epoch (the engine was drained since) finishes into nothing. */
  private readonly stepDone = (epoch: number): void => {
    if (epoch === this.epoch) this.finishStep();
  };

  private finishStep(): void {
    const { chunks, decoding } = this;
    for (const c of chunks) {
      const s = c.seq;
      if (s.state !== 'running') continue; // preempted meanwhile
      s.prefilled += c.tokens;
      if (s.prefilled >= s.promptTokens) {
        // Write-through: the prompt's full blocks are computed; copy those the host lacks (beside the next steps).
        if (this.hostTier && s.hashes && s.generated === 0 && this.cfg.args.prefixCaching) {
          const full = Math.min(s.hashes.length, Math.floor(s.promptTokens / this.cfg.args.blockSize));
          const now = this.sim.now;
          const { toHost, toDisk } = this;
          // The blocks that reach the host are listed only for a disk tier to take them on.
          const onHost = this.hostTier.store(s.hashes, full, now, 0, this.diskTier ? toHost : undefined);
          if (this.diskTier) {
            if (this.hostTier.cfg.capacityBlocks === 0) {
              // KVBM's bypass mode (a disk and no host memory): the GPU's blocks go straight to disk.
              this.diskTier.store(s.hashes, full, now);
            } else {
              // The blocks that reached the host go on to disk once there, those the filter lets through.
              for (const h of toHost) if (!this.diskFilter || this.diskFilter.offer(h, now)) toDisk.push(h);
              if (toDisk.length > 0) this.diskTier.store(toDisk, toDisk.length, onHost);
            }
          }
          truncate(toHost, 0);
          truncate(toDisk, 0);
          // And on to the object store, from host memory, once there (the bucket skips the blocks it has).
          this.cfg.objectStore?.store(s.hashes, 0, full, this.cfg.tp, this.blockBytes, onHost);
        }
        this.emitToken(s);
      }
    }
    for (let i = 0; i < decoding.length; i++) {
      const s = decoding[i]!;
      if (s.state !== 'running') continue;
      // A step's accepted drafts reach the client with its own token, at the step's end.
      const n = this.spec ? this.spec.emitted(i, s.target - s.generated) : 1;
      for (let j = 0; j < n && s.state === 'running'; j++) this.emitToken(s);
    }
    this.step();
  }

  private emitToken(s: Seq): void {
    const first = s.generated === 0;
    s.generated++;
    s.onToken?.(s, first);
    if (s.generated < s.target) return;
    const i = this.running.indexOf(s);
    if (i >= 0) removeAt(this.running, i);
    if (this.cfg.args.prefixCaching && s.hashes && s.generated === s.target) this.commitPrompt(s);
    if (s.holdOnFinish) {
      s.state = 'held';
      this.held.add(s);
    } else {
      this.freeBlocks(s);
      s.state = 'done';
      this.tryReserve();
    }
    s.onFinish?.(s);
  }

  /**
   * The sequence's full blocks become cached, findable by later requests with the same prefix: its prompt's, and
   * those of the answer it decoded here but the last token, whose KV is never computed (vLLM caches a block once its
   * tokens are computed, generated ones included). Hashes reach past the prompt only for a conversation's turns.
   */
  private commitPrompt(s: Seq): void {
    const full = Math.min(s.hashes!.length, Math.floor((s.promptTokens + s.generated - 1) / this.cfg.args.blockSize));
    // Blocks past the cached prefix, less any the prompt names again inside it (a set: prefixes run to thousands).
    const refs = s.cachedRefs.length > 0 ? new Set(s.cachedRefs) : undefined;
    const after = s.hashes!.slice(s.cachedRefs.length, full);
    const fresh = refs ? after.filter((h) => !refs.has(h)) : after;
    const n = Math.min(fresh.length, s.blocks);
    if (n <= 0) return;
    const take = fresh.slice(0, n);
    this.pool.commit(take);
    s.blocks -= n;
    s.cachedRefs = [...s.cachedRefs, ...take];
  }
}
