import type { Catalog, ConnectorProfile, GpuSpec, LlmSpec, TransportSpec } from '../spec/catalog.js';
import { getAllToAll, getConnector, getGpu, getLlm, getNode, getTransport, nodeOffers, sideChannelTransport } from '../catalog/index.js';
import type { Simulator } from '../engine/index.js';
import { InvariantError, UserError } from '../errors.js';
import { DYNAMO_ROUTER_DEFAULTS, type BlockHash, type Deployment, type WorkerGroup } from '../spec/experiment.js';
import {
  brokenPipeLine,
  connectionResetLine,
  type EventLog,
  fellBackLine,
  health503Line,
  requestFailedLine,
} from '../metrics/event-log.js';
import { Network } from '../network/index.js';
import { DecodeConnector, KvFabric, nearlyEqual, PrefillConnector, type LoadResult } from '../nixl/index.js';
import { checkNvlinkDomain, checkPlacement, defaultAllToAllMode, defaultEfficiency, gpusOf, groupParallelism, isPlainTp, withKvCacheDtype, type BandwidthChoice, type Efficiency } from '../physics/index.js';
import { dataParallelArgs, Engine, type EngineConfig, type Seq } from './engine.js';
import { ObjectKvStore } from './object-store.js';
import { Router, type NoWorker } from './router.js';

/**
 * A Dynamo deployment on the kernel: the frontend's routers, the vLLM engines, and for disaggregated serving the
 * NIXL connectors and the fabric between them. It serves one request at a time through submit() and reports how each
 * one went through the callbacks of ServingRequest.
 */
export interface ServingRequest {
  id: string;
  /** With workload.sessions: the turn of its conversation, from 1 (per-turn metrics). */
  turn?: number;
  isl: number;
  osl: number;
  hashes?: BlockHash[];
  warmup: boolean;
  sentAt: number;
  scheduledAt?: number;
  firstTokenAt?: number;
  lastTokenAt?: number;
  doneAt?: number;
  outputTokens: number;
  status: 'running' | 'completed' | 'failed';
  fellBack: boolean;
  stale: boolean;
  kv?: { startedAt: number; finishedAt: number; bytes: number };
  failure?: string;
  /** Why it failed, as a class (for the accounting identities the invariant and storm tests check). */
  failureCause?: FailureCause;
  onEnd: (r: ServingRequest) => void;
  /** The ledger's: live from sent until it ends (ledger.ts). */
  booked?: 'live' | 'ended';
  /** The cluster's: where it is listed as streaming back from an engine, and as queued or prefilling on one. */
  streamListing?: Listing;
  prefillListing?: Listing;
}

/**
 * Catalog figures a run replaces with numbers of its own (calibration, Monte Carlo samples, sensitivity), each inside
 * the range the catalog gives for it. Absent, the deployment's choice from the catalog holds.
 */
export interface ClusterOverrides {
  /** GPU efficiency factors instead of the GPU record's values. */
  efficiency?: Efficiency;
  /** Per-rail bandwidth of the KV transport, bytes/s, instead of the deployment's min / typical / max pick. */
  bandwidthPerRail?: number;
  /** The KV transport's cost per descriptor, seconds, instead of the catalog's figure. */
  perDescriptorS?: number;
}

/** What failed a request. */
export type FailureCause = 'connection_reset' | 'worker_restart' | 'engine_dead' | 'kv_transfer' | 'no_worker' | 'too_long';

/**
 * KV loads by how they ended (every load once), plus `started` (all loads) and `ignored` (of the ended ones, those
 * whose request had already ended, so that neither the KV nor the failure policy applied).
 */
/** Worker slots of each role when a planner may add workers: the deployed ones first, then those it may provision. */
export interface WorkerSlots {
  prefill: number;
  decode: number;
  aggregated: number;
}

/** What a planner reads of an engine (Dynamo's forward-pass metrics): queued prompt tokens and KV tokens in use or queued. */
export interface EngineLoad {
  /** Prompt tokens of requests waiting to be scheduled (queued_requests.sum_prefill_tokens). */
  queuedPrefillTokens: number;
  /** KV tokens of scheduled requests plus those of requests waiting for KV room (sum_decode_kv_tokens, both). */
  kvTokens: number;
  /** The KV pool in tokens (max_kv_tokens). */
  maxKvTokens: number;
}

export type LoadOutcome = 'started' | 'ok' | 'stale' | 'failed:transfer' | 'failed:handshake' | 'failed:engine-dead' | 'failed:restart' | 'ignored';

interface Worker {
  engine: Engine;
  /** The worker's NIXL engine (its first DP rank's when it has several). */
  prefill?: PrefillConnector;
  decode?: DecodeConnector;
  /**
   * One connector per DP rank: each rank of a data-parallel worker is its own vLLM engine with its own NIXL engine id
   * and side channel (vllm-project/vllm PR #18903), holding the KV of the requests it served. [prefill] / [decode]
   * for a worker without DP ranks.
   */
  ranks: PrefillConnector[] | DecodeConnector[];
  /** The DP rank the worker's next request goes to (round robin: the engine balances its ranks). */
  nextRank: number;
}

/** The connector of the DP rank a worker's next request lands on. */
function nextRank<C>(w: Worker, ranks: C[]): C {
  if (ranks.length === 1) return ranks[0]!;
  return ranks[w.nextRank++ % ranks.length]!;
}

export type { Worker as ClusterWorker };

export class Cluster {
  readonly llm: LlmSpec;
  readonly gpu: GpuSpec;
  readonly transport: TransportSpec;
  readonly profile: ConnectorProfile;
  readonly net: Network;
  readonly fabric: KvFabric | undefined;
  readonly prefillWorkers: Worker[] = [];
  readonly decodeWorkers: Worker[] = [];
  readonly aggWorkers: Worker[] = [];
  /** The frontend's routers, one per group (their counts say how much of the prompts the KV router found cached). */
  readonly prefillRouter: Router;
  readonly decodeRouter: Router;
  readonly aggRouter: Router;
  /** Every worker by its engine (what a router picks). */
  private readonly workerOf = new Map<Engine, Worker>();
  /** Requests by the worker streaming them back (decode or aggregated), for connection resets. */
  private readonly streams = new RequestsByEngine();
  /** Requests queued or prefilling on a prefill worker, which fail if it restarts. */
  private readonly prefilling = new RequestsByEngine();
  /** Conditional disaggregation's decisions (warm-up included): prefilled on the decode worker, or on a prefill worker. */
  readonly prefills = { local: 0, remote: 0 };
  /** KV loads by how they ended. */
  readonly loadOutcomes: Record<LoadOutcome, number> = {
    started: 0,
    ok: 0,
    stale: 0,
    'failed:transfer': 0,
    'failed:handshake': 0,
    'failed:engine-dead': 0,
    'failed:restart': 0,
    ignored: 0,
  };
  /** Decode gives up on a KV load after this long (null: waits for ever). */
  readonly kvLoadTimeoutS: number | null;
  /** Autoscaling: each engine's live sequences and their requests, for the planner's metrics (absent: not tracked). */
  private tracked: Map<Engine, { seq: Seq; r: ServingRequest }[]> | undefined;
  /** Probability-driven faults: asked at each opportunity (a request arriving, a response stream starting). */
  roll: ((kind: 'connection_reset' | 'health_503', target?: string) => boolean) | undefined;

  constructor(
    readonly sim: Simulator,
    readonly log: EventLog,
    readonly catalog: Catalog,
    readonly d: Deployment,
    overrides: ClusterOverrides = {},
    /** Autoscaling: worker slots per role (the deployed counts first); absent, the deployment's counts. */
    slots?: WorkerSlots,
  ) {
    const n = slots ?? { prefill: d.prefill.workers, decode: d.decode.workers, aggregated: d.aggregated.workers };
    this.llm = getLlm(catalog, d.model);
    this.gpu = getGpu(catalog, d.gpu);
    const node = getNode(catalog, d.node);
    const transport = getTransport(catalog, d.transport);
    this.transport = overrides.perDescriptorS !== undefined ? { ...transport, perDescriptorS: overrides.perDescriptorS } : transport;
    this.profile = effectiveProfile(getConnector(catalog, d.connector), d);
    this.net = new Network(sim);
    // Each group runs on its own node and GPU when it has them (a decode group on H200s, say), else the deployment's.
    // An efficiency override (uncertainty, calibration) is the deployment GPU's: it applies to groups on that GPU.
    const hardware = (g: WorkerGroup) => {
      const gpu = g.gpu !== undefined ? getGpu(catalog, g.gpu) : this.gpu;
      return {
        gpu,
        node: g.node !== undefined ? getNode(catalog, g.node) : node,
        eff: gpu === this.gpu ? (overrides.efficiency ?? defaultEfficiency(gpu)) : defaultEfficiency(gpu),
        args: g.engine ? { ...d.engine, ...g.engine } : d.engine,
        // The model as this group stores its KV (--kv-cache-dtype: the group's, else the deployment's).
        llm: withKvCacheDtype(this.llm, g.kvCacheDtype ?? d.engine.kvCacheDtype),
      };
    };
    type Hardware = ReturnType<typeof hardware>;
    // The decode side of vLLM's NixlConnector pulls the KV: it starts the reads and polls them every step.
    // A MoE worker with DP ranks or EP (src/physics/moe.ts): one engine for its ranks, their budgets together, and the
    // all-to-all kernels of its node for the experts' dispatch and combine.
    const parallel = (g: WorkerGroup, role: 'prefill' | 'decode' | 'aggregated', h: Hardware): Pick<EngineConfig, 'parallel'> => {
      const p = groupParallelism(g);
      if (isPlainTp(p)) return {};
      const a2a = p.ep > 1 ? { spec: getAllToAll(catalog, h.node.allToAll ?? ''), mode: g.allToAll ?? defaultAllToAllMode(role) } : undefined;
      return { parallel: { dp: p.dp, ep: p.ep, ...(a2a ? { allToAll: a2a } : {}) } };
    };
    // One object store (KVBM's G4 bucket) for the workers that configure the same one.
    const stores = new Map<string, ObjectKvStore>();
    const objectStore = (h: Hardware): Pick<EngineConfig, 'objectStore'> => {
      const o = h.args.kvOffload?.object;
      if (!o) return {};
      const key = JSON.stringify([o.readBytesPerS, o.writeBytesPerS, o.requestLatencyS, o.maxConcurrentRequests]);
      let store = stores.get(key);
      if (!store) stores.set(key, (store = new ObjectKvStore(o)));
      return { objectStore: store };
    };
    const engine = (id: string, g: WorkerGroup, h: Hardware, role: 'prefill' | 'decode' | 'aggregated', pulls = false) =>
      new Engine(sim, log, {
        id,
        llm: h.llm,
        gpu: h.gpu,
        tp: g.tp,
        args: dataParallelArgs(h.args, g.dp ?? 1),
        eff: h.eff,
        connector: pulls,
        node: h.node,
        ...parallel(g, role, h),
        ...objectStore(h),
      });

    if (d.mode === 'aggregated') {
      const h = hardware(d.aggregated);
      for (let i = 0; i < n.aggregated; i++) this.aggWorkers.push({ engine: engine(`agg-${i}`, d.aggregated, h, 'aggregated'), ranks: [], nextRank: 0 });
      this.fabric = undefined;
      this.kvLoadTimeoutS = null;
    } else {
      const [ph, dh] = [hardware(d.prefill), hardware(d.decode)];
      for (const n of [ph.node, dh.node]) {
        if (!nodeOffers(n, this.transport)) throw new UserError(`node '${n.id}' does not offer transport '${this.transport.id}' (it offers ${n.transports.join(', ')})`);
      }
      const rule = checkPlacement(this.transport, d.placement);
      checkNvlinkDomain(this.transport, ph.node, d.placement, n.prefill * gpusOf(groupParallelism(d.prefill)) + n.decode * gpusOf(groupParallelism(d.decode)), dh.node);
      const bandwidth: BandwidthChoice = overrides.bandwidthPerRail ?? d.bandwidth;
      this.fabric = new KvFabric(this.net, this.transport, bandwidth);
      // The handshake's messages cross the catalog's side-channel transport (ZMQ over TCP), else the KV's own path.
      const sideChannelLatencyS = (sideChannelTransport(catalog) ?? this.transport).latencyS;
      // A worker's NIXL engines: one per DP rank (`prefill-0.dp3`), each of tp ranks on its own GPUs' share of the
      // node's NIC rails; the worker itself when it has no DP ranks.
      const nixlEngines = (e: Engine, g: WorkerGroup, h: Hardware) => {
        const dp = g.dp ?? 1;
        const fabric = this.fabric!;
        return Array.from({ length: dp }, (_, r) => {
          const engineId = dp > 1 ? `${e.id}.dp${r}` : e.id;
          const onNode = dp > 1 ? { nodeGpus: Math.min(h.node.gpusPerNode, g.tp * dp) } : {};
          fabric.addEngine({ engineId, tp: g.tp, node: h.node, hostLinkBandwidth: h.gpu.hostLink.copyBandwidth, ...onNode });
          return { engineId, llm: h.llm, profile: this.profile, tp: g.tp, blockSize: d.engine.blockSize, kvLayout: d.engine.kvLayout ?? 'HND', numBlocks: e.pool.total / dp };
        });
      };
      for (let i = 0; i < n.prefill; i++) {
        const e = engine(`prefill-${i}`, d.prefill, ph, 'prefill');
        const ranks = nixlEngines(e, d.prefill, ph).map((cfg) => new PrefillConnector(sim, log, cfg));
        this.prefillWorkers.push({ engine: e, prefill: ranks[0]!, ranks, nextRank: 0 });
      }
      for (let i = 0; i < n.decode; i++) {
        const e = engine(`decode-${i}`, d.decode, dh, 'decode', true);
        const ranks = nixlEngines(e, d.decode, dh).map(
          (cfg) => new DecodeConnector(sim, log, cfg, this.fabric!, this.transport, { sideChannelLatencyS, maxRetries: d.failurePolicy === 'retry' ? d.maxRetries : 0 }),
        );
        this.decodeWorkers.push({ engine: e, decode: ranks[0]!, ranks, nextRank: 0 });
      }
      if (d.prewarmed) {
        for (const dw of this.decodeWorkers) {
          for (const dr of dw.ranks as DecodeConnector[]) for (const pw of this.prefillWorkers) for (const pr of pw.ranks as PrefillConnector[]) dr.preRegister(pr);
        }
      }
      const exp = this.profile.expiry;
      this.kvLoadTimeoutS = d.kvLoadTimeoutS !== undefined ? d.kvLoadTimeoutS : exp.kind === 'abort-timeout' ? exp.timeoutS : null;
      if (rule.outcome === 'fails') {
        if (this.transport.eagainRetry) {
          // The transport sets up but its READs never complete (EFA on one node: fi_read returns EAGAIN and the
          // backend retries for ever, logging as it goes): decode waits until it gives up on the KV.
          this.fabric.stall(log, this.kvLoadTimeoutS ?? 86_400); // waiting for ever: a day of retry lines at most
        } else {
          // No retry loop known for this backend: every rail is as good as down, and reads fail at once.
          for (const id of this.fabric.linkIds()) this.fabric.setLinkState(id, false);
        }
      }
    }
    for (const w of [...this.prefillWorkers, ...this.decodeWorkers, ...this.aggWorkers]) this.workerOf.set(w.engine, w);
    // Each router draws from its own stream of the run's seed; the decode leg of disaggregated serving routes with
    // Dynamo's decode override (no prefix-overlap weight: the KV comes from prefill).
    const settings = { ...DYNAMO_ROUTER_DEFAULTS, ...d.routerConfig };
    const router = (name: string, workers: Worker[], disaggregatedDecode = false) =>
      new Router(d.router, workers.map((w) => w.engine), { settings, rng: sim.rng(`router:${name}`), disaggregatedDecode, now: () => sim.now });
    this.prefillRouter = router('prefill', this.prefillWorkers);
    this.decodeRouter = router('decode', this.decodeWorkers, true);
    this.aggRouter = router('aggregated', this.aggWorkers);
  }

  /** KV READs the decode ranks retried. */
  get kvRetries(): number {
    let n = 0;
    for (const w of this.decodeWorkers) for (const dc of w.ranks as DecodeConnector[]) n += dc.retries;
    return n;
  }

  /** Every engine, prefill first. */
  get engines(): Engine[] {
    return [...this.prefillWorkers, ...this.decodeWorkers, ...this.aggWorkers].map((w) => w.engine);
  }

  submit(r: ServingRequest): void {
    if (this.roll?.('health_503', 'frontend')) this.health503('frontend');
    if (this.d.mode === 'aggregated') {
      this.aggRouter.route(r, (e, why) => {
        if (this.routedAway(r, this.aggRouter)) return;
        if (!e) return this.noWorker(r, 'aggregated', why);
        this.runLocally(r, e);
      });
      return;
    }
    if (this.d.conditionalDisagg) return this.prefillWhere(r, this.d.conditionalDisagg);
    this.prefillRemotely(r);
  }

  private prefillRemotely(r: ServingRequest): void {
    this.prefillRouter.route(r, (p, why) => {
      if (this.routedAway(r, this.prefillRouter)) return;
      if (!p) return this.noWorker(r, 'prefill', why);
      this.prefillOn(r, p);
    });
  }

  /**
   * Conditional disaggregation (deployment.conditionalDisagg): the decode worker is picked first; the request is
   * prefilled there when its prompt less that worker's cached prefix is short enough, or when too many requests wait
   * for prefill workers already; else as usual (the decode worker is then picked again once the prefill is done).
   */
  private prefillWhere(r: ServingRequest, cd: NonNullable<Deployment['conditionalDisagg']>): void {
    this.decodeRouter.route(r, (d, why) => {
      if (this.routedAway(r, this.decodeRouter)) return;
      if (!d) return this.noWorker(r, 'decode', why);
      const bs = d.cfg.args.blockSize;
      const cached = r.hashes && d.cfg.args.prefixCaching ? Math.min(d.pool.matchPrefix(r.hashes), Math.floor((r.isl - 1) / bs)) * bs : 0;
      const waiting = this.prefillRouter.queued + this.prefillWorkers.reduce((n, w) => n + w.engine.queued, 0);
      const queueFull = cd.maxPrefillQueueSize !== null && waiting >= cd.maxPrefillQueueSize;
      if (r.isl - cached <= cd.maxLocalPrefillLength || queueFull) {
        this.prefills.local++;
        return this.runLocally(r, d);
      }
      this.prefills.remote++;
      this.decodeRouter.free(r.id);
      this.prefillRemotely(r);
    });
  }

  /** A request routed after it ended (it waited in the router's queue): its booking goes. */
  private routedAway(r: ServingRequest, router: Router): boolean {
    if (r.status === 'running') return false;
    router.free(r.id);
    return true;
  }

  /** No worker for the request: none alive, or (busy threshold) every live one busy, which Dynamo answers with a 503. */
  private noWorker(r: ServingRequest, group: string, why: NoWorker | undefined): void {
    if (why === 'busy') this.fail(r, `all ${group} workers busy (HTTP 503 Service Unavailable)`, 'no_worker');
    else this.fail(r, `no live ${group} worker`, 'no_worker');
  }

  private prefillOn(r: ServingRequest, p: Engine): void {
    const pw = this.workerOf.get(p)!;
    const seq = this.seq(r, p, r.isl, 1, true);
    if (r.hashes) seq.hashes = r.hashes;
    seq.onFinish = () => {
      // The prefill worker's response (max_tokens 1) ends with its one token: the prefill router's booking goes.
      this.prefillRouter.free(r.id);
      this.prefilling.remove(r.prefillListing);
      if (r.scheduledAt === undefined && seq.scheduledAt !== undefined) r.scheduledAt = seq.scheduledAt;
      this.afterPrefill(r, pw, seq);
    };
    if (!this.fits(p, r.isl + 1)) return this.fail(r, `prompt of ${r.isl} tokens does not fit ${p.id}'s KV pool`, 'too_long');
    r.prefillListing = this.prefilling.add(p, r);
    p.submit(seq);
  }

  private afterPrefill(r: ServingRequest, pw: Worker, pseq: Seq): void {
    if (r.status !== 'running') {
      pw.engine.releaseHeld(pseq);
      return;
    }
    // The DP rank that prefilled it holds its KV (MLA: one latent copy, on each of that rank's TP GPUs).
    const pc = nextRank(pw, pw.ranks as PrefillConnector[]);
    const params = pc.finishRequest(r.id, r.isl, () => pw.engine.releaseHeld(pseq));
    this.decodeRouter.route(r, (d, why) => {
      if (this.routedAway(r, this.decodeRouter)) return;
      if (!d) return this.noWorker(r, 'decode', why);
      this.decodeOn(r, pc, params, d);
    });
  }

  private decodeOn(r: ServingRequest, pc: PrefillConnector, params: ReturnType<PrefillConnector['finishRequest']>, d: Engine): void {
    const dw = this.workerOf.get(d)!;
    // The decode DP rank it lands on reads it, handshaking with that prefill rank's engine first if it has not yet.
    const dc = nextRank(dw, dw.ranks as DecodeConnector[]);
    if (!this.fits(d, r.isl + r.osl)) return this.fail(r, `request of ${r.isl + r.osl} tokens does not fit ${d.id}'s KV pool`, 'too_long');
    const seq = this.seq(r, d, r.isl, r.osl, false);
    // vLLM caches the blocks a connector loaded once they arrive (Scheduler._update_waiting_for_remote_kv calls
    // cache_blocks), and those of the answer as it decodes: a later prompt that starts with them finds them here.
    if (r.hashes) seq.hashes = r.hashes;
    r.streamListing = this.streams.add(d, r);
    d.reserve(seq, r.isl + 1, () => {
      const startedAt = this.sim.now;
      let timer = -1;
      if (this.kvLoadTimeoutS !== null) {
        const t = this.kvLoadTimeoutS;
        timer = this.sim.schedule(t, () => dc.abandon(r.id, `KV load not finished within ${t} s (prefill releases the blocks then)`));
      }
      this.loadOutcomes.started++;
      dc.load(pc, params, (res) => {
        if (timer >= 0) this.sim.cancel(timer);
        this.afterLoad(r, dw, seq, res, startedAt);
      });
    });
  }

  private afterLoad(r: ServingRequest, dw: Worker, seq: Seq, res: LoadResult, startedAt: number): void {
    this.loadOutcomes[res.status === 'failed' ? (`failed:${res.reason}` as const) : res.status]++;
    if (r.status !== 'running') {
      this.loadOutcomes.ignored++;
      dw.engine.abandon(seq);
      return;
    }
    if (res.status === 'ok' || res.status === 'stale') {
      r.kv = { startedAt, finishedAt: res.finishedAt, bytes: res.bytes };
      r.stale = res.status === 'stale';
      // vLLM's scheduler takes all but the last prompt token as computed (_update_waiting_for_remote_kv) and computes
      // that one again: a one-token prefill beside the decodes, which samples the first token the client sees.
      seq.promptTokens = r.isl;
      seq.prefilled = Math.max(0, r.isl - 1);
      dw.engine.activate(seq);
      return;
    }
    if (res.reason === 'engine-dead') {
      this.killDecode(dw);
      return;
    }
    // A build with kv_load_failure_policy=recompute recomputes on decode whatever Dynamo's policy; 'fail' and builds
    // without the option leave it to the deployment's failure policy.
    if (this.d.failurePolicy === 'fail' && this.profile.kvLoadFailurePolicy !== 'recompute') {
      dw.engine.abandon(seq);
      this.fail(r, `KV transfer failed: ${res.error}`, 'kv_transfer');
      return;
    }
    // fallback, or retry with its retries spent: prefill on the decode worker, as seed 000's deployment did.
    r.fellBack = true;
    this.log.emit('fell_back', { time: this.sim.now, component: dw.engine.id, line: fellBackLine(r.id, res.error), requestId: r.id });
    seq.promptTokens = r.isl;
    seq.prefilled = 0;
    dw.engine.activate(seq);
  }

  /** A decode engine died: its requests fail and the router stops sending it work. */
  private killDecode(dw: Worker): void {
    if (dw.engine.dead) return;
    for (const dc of dw.ranks as DecodeConnector[]) dc.die('EngineDeadError');
    dw.engine.drain();
    for (const r of this.streams.on(dw.engine)) this.fail(r, 'EngineDeadError: decode engine died', 'engine_dead');
  }

  private runLocally(r: ServingRequest, e: Engine): void {
    if (!this.fits(e, r.isl + r.osl)) return this.fail(r, `request of ${r.isl + r.osl} tokens does not fit ${e.id}'s KV pool`, 'too_long');
    const seq = this.seq(r, e, r.isl, r.osl, false);
    if (r.hashes) seq.hashes = r.hashes;
    r.streamListing = this.streams.add(e, r);
    e.submit(seq);
  }

  private fits(e: Engine, tokens: number): boolean {
    return e.blocksFor(tokens) <= e.pool.total;
  }

  /**
   * A sequence for request r on engine e; tokens go back to the request when it decodes there (e then streams the
   * response: the request is in its streams from before it is queued until it ends).
   */
  private seq(r: ServingRequest, e: Engine, promptTokens: number, target: number, hold: boolean): Seq {
    const seq: Seq = {
      id: r.id,
      promptTokens,
      prefilled: 0,
      generated: 0,
      target,
      blocks: 0,
      cachedRefs: [],
      state: 'waiting',
      bagAt: -1,
      holdOnFinish: hold,
    };
    if (this.tracked) {
      let list = this.tracked.get(e);
      if (!list) this.tracked.set(e, (list = []));
      list.push({ seq, r });
    }
    if (!hold) {
      seq.onToken = (s, first) => {
        if (r.status !== 'running') return;
        if (r.scheduledAt === undefined && s.scheduledAt !== undefined) r.scheduledAt = s.scheduledAt;
        if (first) {
          r.firstTokenAt = this.sim.now;
          (this.d.mode === 'aggregated' ? this.aggRouter : this.decodeRouter).firstToken(r.id);
          // The response stream to the frontend starts here; a reset takes every stream on the connection with it.
          if (this.roll?.('connection_reset', e.id)) {
            this.sim.schedule(0, () => this.connectionReset(e));
          }
        }
        r.lastTokenAt = this.sim.now;
        r.outputTokens = s.generated;
      };
      seq.onFinish = () => {
        if (r.status !== 'running') return;
        r.status = 'completed';
        this.end(r);
      };
    }
    return seq;
  }

  private end(r: ServingRequest): void {
    r.doneAt = this.sim.now;
    this.streams.remove(r.streamListing);
    this.prefilling.remove(r.prefillListing);
    // Its load leaves the routers' books before anything the end sets off (a closed loop's next request) is routed.
    this.prefillRouter.free(r.id);
    this.decodeRouter.free(r.id);
    this.aggRouter.free(r.id);
    r.onEnd(r);
  }

  fail(r: ServingRequest, why: string, cause: FailureCause): void {
    if (r.status !== 'running') return;
    r.status = 'failed';
    r.failure = why;
    r.failureCause = cause;
    this.log.emit('request_failed', { time: this.sim.now, component: 'frontend', line: requestFailedLine(r.id, why), requestId: r.id });
    this.end(r);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Faults

  /** Dynamo's response stream from a worker breaks: every request it was streaming fails; writers see broken pipes. */
  connectionReset(target: Engine): void {
    const victims = this.streams.on(target).filter((r) => r.status === 'running');
    this.log.emit('connection_reset', { time: this.sim.now, component: `frontend->${target.id}`, line: connectionResetLine() });
    for (let i = 1; i < victims.length; i++) {
      this.log.emit('broken_pipe', { time: this.sim.now, component: `frontend->${target.id}`, line: brokenPipeLine(), requestId: victims[i]!.id });
    }
    for (const r of victims) this.fail(r, 'connection reset by peer (invalid line protocol)', 'connection_reset');
  }

  health503(component: string): void {
    this.log.emit('health_503', { time: this.sim.now, component, line: health503Line() });
  }

  /** Worker ids a fault may target, and link ids. */
  targets(): { workers: Map<string, Worker>; links: string[] } {
    const workers = new Map<string, Worker>();
    for (const w of [...this.prefillWorkers, ...this.decodeWorkers, ...this.aggWorkers]) workers.set(w.engine.id, w);
    return { workers, links: this.fabric ? this.fabric.linkIds() : [] };
  }

  /**
   * A worker restart: down for a while, then back empty. Requests on it fail (queued, prefilling, or streaming from
   * it); a prefill side channel stops answering and its held KV is gone, so decode reads of it fail (and the failure
   * policy applies); a decode worker's loads fail and it must handshake again. Order matters: the engine is drained
   * first, so that nothing the failures set off runs on it.
   */
  workerDown(id: string): void {
    const w = this.targets().workers.get(id);
    if (!w) return;
    const prefills = w.prefill ? (w.ranks as PrefillConnector[]) : [];
    const decodes = w.decode ? (w.ranks as DecodeConnector[]) : [];
    for (const pc of prefills) pc.alive = false;
    w.engine.drain();
    const why = `worker ${id} restarting`;
    for (const r of this.streams.on(w.engine)) this.fail(r, why, 'worker_restart');
    for (const r of this.prefilling.on(w.engine)) this.fail(r, why, 'worker_restart');
    for (const pc of prefills) {
      pc.restart(); // releases the held blocks (onRelease)
      this.fabric?.failReadsOf(pc.engineId);
    }
    for (const dc of decodes) {
      if (dc.dead) continue;
      dc.restart(); // its loads end: afterLoad gives back their reserved blocks
      this.fabric?.failReadsOf(dc.engineId);
    }
    this.updateRouters();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Autoscaling (src/serving/autoscale.ts)

  /** The workers of a role, slots included. */
  workersOf(role: 'prefill' | 'decode' | 'aggregated'): Worker[] {
    return role === 'prefill' ? this.prefillWorkers : role === 'decode' ? this.decodeWorkers : this.aggWorkers;
  }

  private routerOf(role: 'prefill' | 'decode' | 'aggregated'): Router {
    return role === 'prefill' ? this.prefillRouter : role === 'decode' ? this.decodeRouter : this.aggRouter;
  }

  /** Starts keeping each engine's sequences, for engineLoad (a planner asks before the first request). */
  trackLoad(): void {
    this.tracked ??= new Map();
  }

  /**
   * An engine's load as Dynamo's forward-pass metrics give it: prompt tokens queued (prefill and aggregated engines:
   * sequences not yet scheduled, less what they prefilled before a preemption) and KV tokens of scheduled sequences
   * (prefilled + generated; a decode reservation, its prompt) plus those queued on a decode engine (waiting for
   * blocks: their prompts). Sequences that ended or hand their KV to decode drop out.
   */
  engineLoad(e: Engine, role: 'prefill' | 'decode' | 'aggregated'): EngineLoad {
    const list = this.tracked?.get(e) ?? [];
    let queued = 0;
    let kv = 0;
    let keep = 0;
    for (const item of list) {
      const { seq, r } = item;
      if (seq.state === 'done' || seq.state === 'held' || r.status !== 'running') continue;
      list[keep++] = item;
      if (seq.state === 'waiting') {
        if (role === 'decode') kv += seq.promptTokens;
        else queued += seq.promptTokens - seq.prefilled;
      } else if (seq.state === 'reserved') kv += seq.promptTokens;
      else if (seq.state === 'running') kv += seq.prefilled + seq.generated;
    }
    list.length = keep;
    return { queuedPrefillTokens: queued, kvTokens: kv, maxKvTokens: e.pool.total * e.cfg.args.blockSize };
  }

  /** Takes a worker out of (true) or back into (false) its router's rotation: not provisioned yet, or draining. */
  setOffline(role: 'prefill' | 'decode' | 'aggregated', w: Worker, offline: boolean): void {
    const router = this.routerOf(role);
    if (offline) router.offline.add(w.engine);
    else router.offline.delete(w.engine);
    if (!offline) {
      if (w.engine.dead) w.engine.revive();
      if (w.prefill) for (const pc of w.ranks as PrefillConnector[]) pc.alive = true;
    }
    this.updateRouters();
  }

  /** Nothing left on a draining worker: no request queued, running, prefilling or streaming, no KV held for decode. */
  isEmpty(w: Worker): boolean {
    return w.engine.load === 0 && w.engine.pool.used === 0 && this.streams.on(w.engine).length === 0 && this.prefilling.on(w.engine).length === 0;
  }

  /** A drained worker leaves: its process ends (a later scale-up starts it again empty, handshakes anew). */
  retire(w: Worker): void {
    if (w.prefill) {
      for (const pc of w.ranks as PrefillConnector[]) {
        pc.alive = false;
        pc.restart();
      }
    }
    if (w.decode) for (const dc of w.ranks as DecodeConnector[]) if (!dc.dead) dc.restart();
    w.engine.drain();
  }

  /** A worker came or went: requests waiting in a router's queue may go now (or find no live worker). */
  private updateRouters(): void {
    this.prefillRouter.update();
    this.decodeRouter.update();
    this.aggRouter.update();
  }

  workerUp(id: string): void {
    const w = this.targets().workers.get(id);
    if (!w || (w.decode && w.decode.dead)) return;
    if (w.prefill) for (const pc of w.ranks as PrefillConnector[]) pc.alive = true;
    w.engine.revive();
    this.updateRouters();
  }

  /**
   * The cluster's invariants after an event (debug mode) or at the end: every engine's books, every flow, every
   * connector count, and the bytes invariant in aggregate (distinct KV read in full by decode equals distinct KV the
   * prefill ranks released after those reads). O(sequences + flows + held requests).
   */
  check(): void {
    for (const e of this.engines) e.check();
    this.prefillRouter.check('the prefill router');
    this.decodeRouter.check('the decode router');
    this.aggRouter.check('the aggregated router');
    this.net.check();
    let served = 0;
    let read = 0;
    for (const w of this.prefillWorkers) {
      for (const pc of w.ranks as PrefillConnector[]) {
        pc.check();
        served += pc.kvContentServed;
      }
    }
    for (const w of this.decodeWorkers) {
      for (const dc of w.ranks as DecodeConnector[]) {
        dc.check();
        read += dc.kvContentRead;
      }
    }
    if (!nearlyEqual(served, read)) {
      throw new InvariantError(
        `bytes read by decode ranks equal the bytes the prefill ranks held: decode workers read ${read} B of distinct KV ` +
          `in completed transfers, prefill workers released ${served} B after reads`,
      );
    }
  }
}

/** A request's place on an engine's list in a RequestsByEngine; `at` is -1 once it has left. */
interface Listing {
  readonly request: ServingRequest;
  readonly list: Listing[];
  at: number;
  /** When it was listed, against the others: on() gives them in this order. */
  readonly order: number;
}

/**
 * Requests on each engine, in the order they came (the order a fault fails them in); a request is on one at most, and
 * keeps the listing add() returns. Lists rather than Maps and Sets: those, filled and emptied one request at a time,
 * reallocate their tables again and again, in the old generation where they live, and that garbage keeps young
 * objects alive through scavenges.
 */
class RequestsByEngine {
  private readonly lists = new Map<Engine, Listing[]>();
  private added = 0;

  add(e: Engine, r: ServingRequest): Listing {
    let list = this.lists.get(e);
    if (!list) this.lists.set(e, (list = []));
    const listing: Listing = { request: r, list, at: list.length, order: this.added++ };
    list.push(listing);
    return listing;
  }

  /** Takes a request off its engine's list (the last one takes its place); nothing if it left already. */
  remove(listing: Listing | undefined): void {
    if (listing === undefined || listing.at < 0) return;
    const last = listing.list.pop()!;
    if (last !== listing) {
      listing.list[listing.at] = last;
      last.at = listing.at;
    }
    listing.at = -1;
  }

  /** The requests on e in the order they came, as a copy (failing them removes them). */
  on(e: Engine): ServingRequest[] {
    return [...(this.lists.get(e) ?? [])].sort((a, b) => a.order - b.order).map((l) => l.request);
  }
}

/** The connector profile an experiment runs: the build's, with the experiment's expiry and field overrides applied. */
export function effectiveProfile(base: ConnectorProfile, d: Deployment): ConnectorProfile {
  const o = d.connectorOverrides ?? {};
  return {
    ...base,
    tp: { ...base.tp, ...o.tp },
    blockSize: { ...base.blockSize, ...o.blockSize },
    handshake: { ...base.handshake, ...o.handshake },
    kvLoadFailurePolicy: o.kvLoadFailurePolicy !== undefined ? o.kvLoadFailurePolicy : base.kvLoadFailurePolicy,
    expiry: d.expiry ?? base.expiry,
  };
}
