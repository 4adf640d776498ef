import { Deque } from 'js-sdsl';
import type { RandomStream } from '../engine/index.js';
import { InvariantError } from '../errors.js';
import type { BlockHash, RouterKind, RouterSettings } from '../spec/experiment.js';
import type { Engine } from './engine.js';

/**
 * Dynamo's frontend routing over one group of workers (the prefill, decode or aggregated workers), as Dynamo v1.0.0
 * does it (`--router-mode`: round-robin, random, kv; least-loaded is this model's own, the fewest requests queued or
 * running). Dead workers are skipped: a restarting worker leaves Dynamo's discovery. Sources, Dynamo v1.0.0:
 *   - docs.nvidia.com/dynamo/v1.0.0/additional-resources/frontend-configuration-reference (flags and defaults);
 *   - lib/kv-router/src/scheduling/selector.rs (DefaultWorkerSelector: the cost, softmax_sample, the tie-break);
 *   - lib/llm/src/kv_router/sequence.rs (ActiveSequences: what a worker's prefill tokens and active blocks are, and
 *     when they change: add_request when routed, mark_prefill_completed at the first output token, free at the end);
 *   - lib/llm/src/kv_router/queue.rs (SchedulerQueue: the queue threshold);
 *   - lib/llm/src/kv_router/prefill_router.rs (the decode leg of disaggregated serving routes with
 *     overlap_score_weight 0 and assume_kv_reuse false);
 *   - docs/fault_tolerance/request_rejection.md (the busy threshold: 503 when every worker is busy).
 *
 * The KV router scores each live worker w for a request of `isl` prompt tokens (block size b, cached prefix o_w blocks
 * on w, its prompt's full blocks B = floor(isl / b)) with
 *     cost_w = overlapScoreWeight * (prefillTokens_w + isl - o_w * b) / b + activeBlocks_w + newBlocks_w
 * where prefillTokens_w are the uncached prompt tokens of requests routed to w that have not produced their first
 * token, activeBlocks_w the distinct prompt blocks of requests routed to w and not yet finished, and newBlocks_w those
 * of the request's B blocks w's active requests do not already hold (all B when KV reuse is not assumed). Lowest cost
 * wins at temperature 0; ties go to the worker with the fewest cached blocks (Dynamo's tree size), then to a uniform
 * draw among those still tied. Above 0 the worker is drawn with probability proportional to
 * exp(-cost_w / ((max cost - min cost) * temperature)), uniform when every cost is equal. Draws come from the run's
 * seeded stream for this router (Dynamo draws from an unseeded generator, and a tie it leaves to hash-map order goes
 * to the lowest index here).
 */

export interface RouterOptions {
  /** deployment.routerConfig with Dynamo's defaults (the experiment schema says what each setting does). */
  settings: RouterSettings;
  /** The run's random stream for this router (random mode, ties, softmax sampling). */
  rng: RandomStream;
  /**
   * The decode leg of disaggregated serving: the prompt's KV comes from prefill, so Dynamo routes it with
   * overlap_score_weight 0 and without assuming KV reuse (every prompt block counts as new on any worker).
   */
  disaggregatedDecode?: boolean;
  /** The simulated time (what a worker's host tier holds depends on it); needed only with a hostCacheHitWeight. */
  now?: () => number;
}

/** What a router needs of a request. */
export interface RouteRequest {
  id: string;
  /** Prompt tokens. */
  isl: number;
  /** Hashes of the prompt's full blocks, leading ones first (Mooncake traces); absent: no block is shared. */
  hashes?: readonly BlockHash[];
}

/** Why a request got no worker: none is alive, or every live one is over the busy threshold (HTTP 503). */
export type NoWorker = 'dead' | 'busy';

/** Called once per request: with its worker, or with null and why there is none. */
export type Routed = (worker: Engine | null, why?: NoWorker) => void;

/** Prefix-cache counts of the requests routed so far (Dynamo's KV hit-rate events: isl_blocks, overlap_blocks). */
export interface RouterCounts {
  routed: number;
  /** Full prompt blocks of the requests the KV router routed (the other modes do not look at the cache). */
  promptBlocks: number;
  /** Of those, blocks cached on the worker chosen, when it was chosen. */
  cachedBlocks: number;
  /** Requests that waited in the router's queue. */
  queued: number;
  /** Requests sent away with no worker (dead or busy). */
  refused: number;
}

/** A worker's load as the KV router books it (Dynamo's ActiveSequences). */
class WorkerLoad {
  /** Uncached prompt tokens of routed requests not past their first token. */
  prefillTokens = 0;
  /** Prompt blocks shared by hash: how many active requests hold each. */
  readonly shared = new Map<BlockHash, number>();
  /** Prompt blocks no other request can hold (no hash, or KV reuse not assumed). */
  unique = 0;

  get activeBlocks(): number {
    return this.shared.size + this.unique;
  }
}

/** A routed request's share of its worker's load, until it is freed. */
interface Booking {
  load: WorkerLoad;
  prefillTokens: number;
  shared: readonly BlockHash[];
  unique: number;
}

export class Router {
  private next = 0;
  private readonly settings: RouterSettings;
  private readonly rng: RandomStream;
  private readonly weight: number;
  private readonly assumeKvReuse: boolean;
  private readonly now: () => number;
  private readonly loads: WorkerLoad[];
  private readonly bookings = new Map<string, Booking>();
  private readonly pending = new Deque<{ req: RouteRequest; to: Routed }>();
  private draining = false;
  /**
   * Workers that take no new requests though alive: not yet provisioned, or draining before they leave (autoscaling,
   * src/serving/autoscale.ts). Empty unless a planner runs.
   */
  readonly offline = new Set<Engine>();
  readonly counts: RouterCounts = { routed: 0, promptBlocks: 0, cachedBlocks: 0, queued: 0, refused: 0 };

  constructor(
    readonly kind: RouterKind,
    readonly engines: Engine[],
    options: RouterOptions,
  ) {
    this.settings = options.settings;
    this.rng = options.rng;
    this.weight = options.disaggregatedDecode ? 0 : options.settings.overlapScoreWeight;
    this.assumeKvReuse = !options.disaggregatedDecode;
    this.now = options.now ?? (() => 0);
    this.loads = engines.map(() => new WorkerLoad());
  }

  /** Requests waiting in the router's queue. */
  get queued(): number {
    return this.pending.size();
  }

  /**
   * Routes a request: `to` is called with its worker now, or, when the KV router's queue holds it, once a worker has
   * room. The KV router books the request's load on that worker before calling `to`.
   */
  route(req: RouteRequest, to: Routed): void {
    if (this.kind === 'kv-aware' && this.allBusy()) {
      this.counts.queued++;
      this.pending.pushBack({ req, to });
      return;
    }
    this.schedule(req, to);
  }

  /** The request's first output token: its prompt tokens leave the worker's prefill load. */
  firstToken(id: string): void {
    const b = this.bookings.get(id);
    if (b === undefined || b.prefillTokens === 0) return;
    b.load.prefillTokens -= b.prefillTokens;
    b.prefillTokens = 0;
    this.update();
  }

  /** The request ended on its worker (finished, failed, or its prefill is done): its load leaves the worker. */
  free(id: string): void {
    const b = this.bookings.get(id);
    if (b === undefined) return;
    this.bookings.delete(id);
    const load = b.load;
    load.prefillTokens -= b.prefillTokens;
    for (const h of b.shared) {
      const n = load.shared.get(h)!;
      if (n <= 1) load.shared.delete(h);
      else load.shared.set(h, n - 1);
    }
    load.unique -= b.unique;
    this.update();
  }

  /** Routes queued requests while some worker has room (Dynamo re-checks at every first token and every free). */
  update(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.pending.size() > 0 && !this.allBusy()) {
        const { req, to } = this.pending.popFront()!;
        this.schedule(req, to);
      }
    } finally {
      this.draining = false;
    }
  }

  /** The router's books against themselves (invariants): no load negative, each the sum of its bookings. */
  check(name: string): void {
    const tokens = this.loads.map(() => 0);
    const unique = this.loads.map(() => 0);
    for (const b of this.bookings.values()) {
      const i = this.loads.indexOf(b.load);
      tokens[i]! += b.prefillTokens;
      unique[i]! += b.unique;
    }
    this.loads.forEach((l, i) => {
      if (l.prefillTokens !== tokens[i] || l.unique !== unique[i] || l.prefillTokens < 0 || l.unique < 0) {
        throw new InvariantError(
          `a router's load is the sum of its requests': ${name} books ${l.prefillTokens} prefill tokens and ${l.unique} unshared blocks ` +
            `on ${this.engines[i]!.id}, its requests there add up to ${tokens[i]} and ${unique[i]}`,
        );
      }
    });
  }

  /** True when the queue should hold requests: every live worker's prefill tokens are over the threshold. */
  private allBusy(): boolean {
    const t = this.settings.queueThreshold;
    if (t === null) return false;
    let live = 0;
    for (let i = 0; i < this.engines.length; i++) {
      const e = this.engines[i]!;
      if (e.dead || this.offline.has(e)) continue;
      live++;
      if (this.loads[i]!.prefillTokens <= t * e.cfg.args.maxNumBatchedTokens) return false;
    }
    // No live worker: the request goes on, to be refused (Dynamo's scheduler answers NoEndpoints).
    return live > 0;
  }

  /** Over the busy threshold: more of the KV cache in use than the fraction allowed. */
  private busy(e: Engine): boolean {
    const t = this.settings.busyThreshold;
    return t !== null && e.pool.used > t * e.pool.total;
  }

  private schedule(req: RouteRequest, to: Routed): void {
    let live = false;
    const ok: number[] = [];
    for (let i = 0; i < this.engines.length; i++) {
      const e = this.engines[i]!;
      if (e.dead || this.offline.has(e)) continue;
      live = true;
      if (!this.busy(e)) ok.push(i);
    }
    if (ok.length === 0) {
      this.counts.refused++;
      to(null, live ? 'busy' : 'dead');
      return;
    }
    let i: number;
    if (this.kind === 'round-robin') i = this.roundRobin(ok);
    else if (this.kind === 'random') i = ok[this.rng.int(ok.length)]!;
    else if (this.kind === 'least-loaded') i = this.leastLoaded(ok);
    else i = this.kvPick(req, ok);
    this.counts.routed++;
    to(this.engines[i]!);
  }

  /** The next worker in turn that can take work. */
  private roundRobin(ok: number[]): number {
    const n = this.engines.length;
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      if (ok.includes(i)) {
        this.next = (i + 1) % n;
        return i;
      }
    }
    throw new InvariantError('round-robin found no worker among the ones that can take work');
  }

  /** The fewest requests queued or running; ties to the lowest index. */
  private leastLoaded(ok: number[]): number {
    let best = ok[0]!;
    for (const i of ok) if (this.engines[i]!.load < this.engines[best]!.load) best = i;
    return best;
  }

  /** The KV router: each worker's cost, the pick, and the request booked on the worker picked. */
  private kvPick(req: RouteRequest, ok: number[]): number {
    const bs = this.engines[ok[0]!]!.cfg.args.blockSize;
    const full = Math.floor(req.isl / bs);
    const hashes = this.assumeKvReuse && req.hashes ? req.hashes.slice(0, full) : [];
    const costs: number[] = [];
    const overlaps: number[] = [];
    const onGpus: number[] = [];
    const hostWeight = this.settings.hostCacheHitWeight;
    const diskWeight = this.settings.diskCacheHitWeight;
    for (const i of ok) {
      const e = this.engines[i]!;
      const load = this.loads[i]!;
      const onGpu = hashes.length > 0 ? e.pool.matchPrefix(hashes) : 0;
      // Tier-based routing: the host tier's blocks that continue the GPU prefix, at a lower credit.
      const onHost = (hostWeight > 0 || diskWeight > 0) && e.hostTier && onGpu < hashes.length ? e.hostTier.match(hashes, onGpu, hashes.length, this.now()) : 0;
      const onDisk = diskWeight > 0 && e.diskTier && onGpu + onHost < hashes.length ? e.diskTier.match(hashes, onGpu + onHost, hashes.length, this.now()) : 0;
      const overlap = onGpu + hostWeight * onHost + diskWeight * onDisk;
      let fresh = full - hashes.length;
      for (const h of hashes) if (!load.shared.has(h)) fresh++;
      const prefillBlocks = (load.prefillTokens + Math.max(0, req.isl - overlap * bs)) / bs;
      costs.push(this.weight * prefillBlocks + load.activeBlocks + fresh);
      overlaps.push(overlap);
      onGpus.push(onGpu);
    }
    const k = this.settings.temperature === 0 ? this.lowest(ok, costs) : this.sample(costs, this.settings.temperature);
    const i = ok[k]!;
    const overlap = overlaps[k]!;
    const load = this.loads[i]!;
    const booking: Booking = { load, prefillTokens: Math.max(0, req.isl - overlap * bs), shared: hashes, unique: full - hashes.length };
    if (this.bookings.has(req.id)) throw new InvariantError(`request ${req.id} routed twice by one router`);
    this.bookings.set(req.id, booking);
    load.prefillTokens += booking.prefillTokens;
    for (const h of hashes) load.shared.set(h, (load.shared.get(h) ?? 0) + 1);
    load.unique += booking.unique;
    this.counts.promptBlocks += full;
    this.counts.cachedBlocks += Math.min(onGpus[k]!, full);
    return i;
  }

  /** Temperature 0: the lowest cost; ties to the fewest cached blocks, then a uniform draw if those are all equal. */
  private lowest(ok: number[], costs: number[]): number {
    let min = Infinity;
    for (const c of costs) if (c < min) min = c;
    const tied: number[] = [];
    costs.forEach((c, k) => {
      if (c === min) tied.push(k);
    });
    if (tied.length === 1) return tied[0]!;
    const sizes = tied.map((k) => this.engines[ok[k]!]!.pool.cachedBlocks);
    if (sizes.every((s) => s === sizes[0])) return tied[this.rng.int(tied.length)]!;
    let best = 0;
    for (let j = 1; j < tied.length; j++) if (sizes[j]! < sizes[best]!) best = j;
    return tied[best]!;
  }

  /** Temperature t > 0: softmax over the costs normalised by their range, lower cost likelier. */
  private sample(costs: number[], t: number): number {
    let min = Infinity;
    let max = -Infinity;
    for (const c of costs) {
      if (c < min) min = c;
      if (c > max) max = c;
    }
    const u = this.rng.next();
    const weights = costs.map((c) => (min === max ? 1 : Math.exp(-(c - min) / ((max - min) * t))));
    const sum = weights.reduce((a, b) => a + b, 0);
    let cum = 0;
    for (let k = 0; k < weights.length; k++) {
      cum += weights[k]! / sum;
      if (u <= cum) return k;
    }
    return weights.length - 1;
  }
}
