import type { ConnectorProfile, LlmSpec, TransportSpec } from '../catalog/types.js';
import type { EventHandle, Simulator } from '../engine/index.js';
import { InvariantError } from '../errors.js';
import {
  engineDeadLine,
  type EventLog,
  expiredLine,
  handshakeFailedLine,
  kvTransferFailedLine,
  leaseExpiredLine,
  staleReadLine,
} from '../metrics/event-log.js';
import type { Flow } from '../network/index.js';
import { blocksPerRequest, readPlan, type RankRead } from '../physics/index.js';
import { NixlAgent } from './agent.js';
import { compatHash, handshakeVerdict } from './compat.js';
import type { KvFabric } from './fabric.js';

/**
 * The vLLM NixlConnector on both sides of a disaggregated pair, as events on the kernel:
 * - prefill keeps a finished request's blocks until every decode read has notified it, or until they expire
 *   (VLLM_NIXL_ABORT_REQUEST_TIMEOUT, or a lease that decode heartbeats extend);
 * - decode handshakes lazily with each new prefill engine (one at a time), then pulls each request with one READ per
 *   (decode rank, target prefill rank) as network flows, and notifies prefill as each completes;
 * - what goes wrong goes wrong as the build in the connector profile does: a rejected handshake fails the waiting
 *   requests, a crash (seed 003) kills the decode engine at its next get_finished().
 */
export interface EngineConfig {
  engineId: string;
  llm: LlmSpec;
  profile: ConnectorProfile;
  tp: number;
  blockSize: number;
  /** KV blocks each rank's pool holds (for the agents' metadata). */
  numBlocks: number;
}

/** What prefill hands back with its one-token response, as vLLM's kv_transfer_params. */
export interface KvTransferParams {
  requestId: string;
  remoteEngineId: string;
  remoteTpSize: number;
  remoteBlockSize: number;
  /** Blocks holding the request on each prefill rank. */
  remoteBlocks: number;
  tokens: number;
}

export type LoadResult =
  | { status: 'ok'; bytes: number; startedAt: number; finishedAt: number }
  /** The reads finished after prefill had released the blocks: what arrived may be someone else's KV. */
  | { status: 'stale'; bytes: number; startedAt: number; finishedAt: number }
  | { status: 'failed'; reason: 'handshake' | 'transfer' | 'engine-dead'; error: string; finishedAt: number };

/** One NIXL agent per rank of an engine, all carrying the engine's compatibility hash. */
function makeAgents(cfg: EngineConfig): NixlAgent[] {
  const hash = compatHash(cfg.llm, cfg.profile);
  return Array.from({ length: cfg.tp }, (_, r) => new NixlAgent(cfg.engineId, r, cfg.tp, cfg.llm, cfg.blockSize, cfg.numBlocks, hash));
}

interface Held {
  params: KvTransferParams;
  /** Notifications still expected per prefill rank; the blocks are freed when all reach zero. */
  pending: number[];
  expiresAt: number;
  timer: EventHandle;
  state: 'held' | 'freed' | 'expired';
  onRelease: ((why: 'read' | 'expired') => void) | undefined;
}

export class PrefillConnector {
  readonly agents: NixlAgent[];
  private readonly held = new Map<string, Held>();
  /** False while the worker is down (restart): its side channel does not answer. */
  alive = true;
  bytesHeldForReads = 0;

  constructor(
    readonly sim: Simulator,
    readonly log: EventLog,
    readonly cfg: EngineConfig,
  ) {
    this.agents = makeAgents(cfg);
  }

  get engineId(): string {
    return this.cfg.engineId;
  }

  /** Requests whose blocks are held for a decode read. */
  get holding(): number {
    return this.held.size;
  }

  /**
   * Prefill finished `requestId`: keep its blocks for decode and start the expiry clock. `onRelease` runs when the
   * blocks are given back to the pool, read or expired.
   */
  finishRequest(requestId: string, tokens: number, onRelease?: (why: 'read' | 'expired') => void): KvTransferParams {
    if (this.held.has(requestId)) throw new InvariantError(`prefill ${this.engineId} already holds request ${requestId}`);
    const params: KvTransferParams = {
      requestId,
      remoteEngineId: this.engineId,
      remoteTpSize: this.cfg.tp,
      remoteBlockSize: this.cfg.blockSize,
      remoteBlocks: blocksPerRequest(tokens, this.cfg.blockSize),
      tokens,
    };
    const exp = this.cfg.profile.expiry;
    const ttl = exp.kind === 'abort-timeout' ? exp.timeoutS : exp.leaseS;
    const h: Held = {
      params,
      pending: [],
      expiresAt: this.sim.now + ttl,
      timer: -1,
      state: 'held',
      onRelease,
    };
    h.timer = this.sim.schedule(ttl, this.expire, h);
    this.held.set(requestId, h);
    return params;
  }

  /** 'held' while decode may read; 'expired' once released unread; 'freed' after every read notified; 'unknown'. */
  stateOf(requestId: string): 'held' | 'freed' | 'expired' | 'unknown' {
    return this.held.get(requestId)?.state ?? 'unknown';
  }

  /** Decode announces how many notifications each prefill rank will get for this request (vLLM's consumer count). */
  expectReads(requestId: string, perRank: number[]): void {
    const h = this.held.get(requestId);
    if (h && h.state === 'held' && h.pending.length === 0) h.pending = perRank.slice();
  }

  /** A decode rank's READ from prefill rank `rank` completed and notified. */
  notify(requestId: string, rank: number): void {
    const h = this.held.get(requestId);
    if (!h || h.state !== 'held') return; // after expiry: vLLM logs "Potentially invalid KV blocks ... may have expired"
    h.pending[rank] = (h.pending[rank] ?? 1) - 1;
    if (h.pending.every((n) => n <= 0)) {
      this.sim.cancel(h.timer);
      h.state = 'freed';
      this.held.delete(requestId);
      this.bytesHeldForReads += this.agents.reduce((s, a) => s + a.bytesFor(h.params.remoteBlocks), 0);
      h.onRelease?.('read');
    }
  }

  /** Lease builds: a decode heartbeat extends the lease to now + extendS (never shortens it). */
  heartbeat(requestId: string): void {
    const exp = this.cfg.profile.expiry;
    const h = this.held.get(requestId);
    if (exp.kind !== 'lease' || !h || h.state !== 'held') return;
    const until = this.sim.now + exp.extendS;
    if (until <= h.expiresAt) return;
    h.expiresAt = until;
    this.sim.cancel(h.timer);
    h.timer = this.sim.at(until, this.expire, h);
  }

  private readonly expire = (h: Held): void => {
    if (h.state !== 'held') return;
    h.state = 'expired';
    const exp = this.cfg.profile.expiry;
    const line = exp.kind === 'abort-timeout' ? expiredLine(h.params.requestId, exp.timeoutS) : leaseExpiredLine(h.params.requestId);
    // Every prefill rank's worker runs its own get_finished() and logs its own line.
    for (const a of this.agents) {
      this.log.emit('kv_blocks_expired', { time: this.sim.now, component: a.name, line, requestId: h.params.requestId });
    }
    // Keep the record (state 'expired') a while so that a late read is recognised as stale, then forget it.
    this.sim.schedule(3600, () => this.held.delete(h.params.requestId));
    h.onRelease?.('expired');
  };
}

interface Load {
  requestId: string;
  params: KvTransferParams;
  prefill: PrefillConnector;
  done: (r: LoadResult) => void;
  startedAt: number;
  flows: (Flow | null)[];
  readsLeft: number;
  bytes: number;
  stale: boolean;
  attempts: number;
  heartbeat: EventHandle;
  finished: boolean;
}

interface Handshake {
  prefill: PrefillConnector;
  waiting: Load[];
}

export interface DecodeOptions {
  /** Re-issue a failed transfer this many times before giving up (the retry policy). */
  maxRetries?: number;
  /** One-way latency of the ZMQ side channel the handshake runs over, seconds (a TCP transport's latency). */
  sideChannelLatencyS: number;
}

export class DecodeConnector {
  readonly agents: NixlAgent[];
  dead = false;
  /** vLLM's remote_block_size: filled only when a handshake registers the remote engine. */
  readonly remoteBlockSize = new Map<string, number>();
  private readonly registered = new Set<string>();
  private readonly handshakes = new Map<string, Handshake>();
  private readonly queue: string[] = [];
  private handshaking: string | null = null;
  private readonly loads = new Set<Load>();
  bytesRead = 0;

  constructor(
    readonly sim: Simulator,
    readonly log: EventLog,
    readonly cfg: EngineConfig,
    readonly fabric: KvFabric,
    readonly transport: TransportSpec,
    readonly options: DecodeOptions,
  ) {
    this.agents = makeAgents(cfg);
  }

  get engineId(): string {
    return this.cfg.engineId;
  }

  /** Loads in flight (waiting on a handshake or reading). */
  get inFlight(): number {
    return this.loads.size;
  }

  /** Pulls a request's KV from `prefill`; `done` runs exactly once. */
  load(prefill: PrefillConnector, params: KvTransferParams, done: (r: LoadResult) => void): void {
    const load: Load = {
      requestId: params.requestId,
      params,
      prefill,
      done,
      startedAt: this.sim.now,
      flows: [],
      readsLeft: 0,
      bytes: 0,
      stale: false,
      attempts: 0,
      heartbeat: -1,
      finished: false,
    };
    if (this.dead) {
      this.sim.schedule(0, () => done({ status: 'failed', reason: 'engine-dead', error: 'EngineDeadError', finishedAt: this.sim.now }));
      return;
    }
    this.loads.add(load);
    this.startHeartbeats(load);
    if (this.registered.has(prefill.engineId)) {
      this.startReads(load);
      return;
    }
    let hs = this.handshakes.get(prefill.engineId);
    if (!hs) {
      hs = { prefill, waiting: [] };
      this.handshakes.set(prefill.engineId, hs);
      this.queue.push(prefill.engineId);
    }
    hs.waiting.push(load);
    this.pump();
  }

  /** One handshake at a time per decode engine: the next unknown prefill engine in arrival order. */
  private pump(): void {
    if (this.handshaking !== null || this.queue.length === 0 || this.dead) return;
    const engineId = this.queue.shift()!;
    this.handshaking = engineId;
    const hs = this.handshakes.get(engineId)!;
    const p = hs.prefill;
    const verdict = handshakeVerdict(this.cfg.profile, {
      prefillTp: p.cfg.tp,
      decodeTp: this.cfg.tp,
      prefillBlockSize: p.cfg.blockSize,
      decodeBlockSize: this.cfg.blockSize,
      llm: this.cfg.llm,
      prefillLlm: p.cfg.llm,
      prefillProfile: p.cfg.profile,
      engineId,
    });
    if (!p.alive) {
      const t = this.cfg.profile.handshake.timeoutS;
      if (t === null) return; // no receive timeout in this build: the handshake thread waits for ever
      this.sim.schedule(t, () => {
        const e = this.cfg.profile.errors.handshakeTimeout;
        this.handshakeFailed(engineId, `${e.error}: no reply from ${engineId} within ${t} s`, true);
      });
      return;
    }
    // One metadata request and reply on the side channel per target prefill rank.
    const targets = verdict.outcome === 'ok' ? new Set(verdict.targetRanks.flat()).size : 1;
    this.sim.schedule(2 * this.options.sideChannelLatencyS * targets, () => {
      if (verdict.outcome === 'ok') {
        this.registered.add(engineId);
        this.remoteBlockSize.set(engineId, p.cfg.blockSize);
        this.handshaking = null;
        this.handshakes.delete(engineId);
        for (const load of hs.waiting) if (!load.finished) this.startReads(load);
        this.pump();
      } else if (verdict.outcome === 'rejected') {
        this.handshakeFailed(engineId, verdict.message, false);
      } else {
        // Seed 003: the handshake dies inside (ZeroDivisionError), the engine is never registered, the waiting
        // requests are marked ready anyway, and the next get_finished() looks up remote_block_size -> KeyError.
        this.log.emit('handshake_failed', { time: this.sim.now, component: this.engineId, line: handshakeFailedLine(engineId, verdict.handshakeError ?? verdict.message) });
        const keyError = this.remoteBlockSize.has(engineId) ? null : `KeyError: '${engineId}'`;
        if (keyError === null) throw new InvariantError('a crashed handshake registered its engine');
        this.die(`${keyError} in block_size_ratio_from_engine_id`);
      }
    });
  }

  /** A handshake that did not register the engine: the profile says whether the engine survives it. */
  private handshakeFailed(engineId: string, reason: string, unexpected: boolean): void {
    const hs = this.handshakes.get(engineId)!;
    this.log.emit('handshake_failed', { time: this.sim.now, component: this.engineId, line: handshakeFailedLine(engineId, reason) });
    this.handshaking = null;
    this.handshakes.delete(engineId);
    if (unexpected && this.cfg.profile.handshake.onFailure === 'engine-dead') {
      // Before PR #40364 the waiting requests went on as if ready, and get_finished() then hit the KeyError.
      this.die(`KeyError: '${engineId}' in block_size_ratio_from_engine_id`);
      return;
    }
    for (const load of hs.waiting) this.finish(load, { status: 'failed', reason: 'handshake', error: reason, finishedAt: this.sim.now });
    this.pump();
  }

  private startReads(load: Load): void {
    const p = load.prefill;
    const plan = readPlan(this.cfg.llm, load.params.tokens, p.cfg.tp, this.cfg.tp, p.cfg.blockSize);
    load.attempts++;
    load.readsLeft = plan.perRead.length;
    load.bytes = plan.bytesTotal;
    const perRank = new Array<number>(p.cfg.tp).fill(0);
    for (const r of plan.perRead) perRank[r.prefillRank]!++;
    // MLA: ranks nobody reads still expect one notification (vLLM notifies the rest of the group), so that all free.
    p.expectReads(load.requestId, perRank.map((n) => Math.max(1, n)));
    const posted = new Map<number, number>();
    load.flows = plan.perRead.map((r) => {
      const posting = (posted.get(r.decodeRank) ?? 0) + this.transport.perReadS + r.descriptors * this.transport.perDescriptorS;
      posted.set(r.decodeRank, posting);
      return this.fabric.startRead({
        path: this.fabric.path(p.engineId, r.prefillRank, this.engineId, r.decodeRank),
        bytes: r.bytes,
        latencyS: this.transport.latencyS + posting,
        onDone: () => this.readDone(load, r),
        onFail: (why) => this.readFailed(load, why),
      });
    });
    // Ranks nobody reads from (MLA with prefill wider) get their notification now.
    perRank.forEach((n, rank) => {
      if (n === 0) p.notify(load.requestId, rank);
    });
  }

  private readDone(load: Load, r: RankRead): void {
    if (load.finished) return;
    const state = load.prefill.stateOf(load.requestId);
    if (state === 'expired') load.stale = true;
    load.prefill.notify(load.requestId, r.prefillRank);
    if (--load.readsLeft > 0) return;
    if (load.stale) {
      this.log.emit('stale_kv_read', { time: this.sim.now, component: this.engineId, line: staleReadLine(load.requestId), requestId: load.requestId });
      this.finish(load, { status: 'stale', bytes: load.bytes, startedAt: load.startedAt, finishedAt: this.sim.now });
      return;
    }
    this.bytesRead += load.bytes;
    this.finish(load, { status: 'ok', bytes: load.bytes, startedAt: load.startedAt, finishedAt: this.sim.now });
  }

  private readFailed(load: Load, why: string): void {
    if (load.finished) return;
    for (const f of load.flows) this.fabric.cancelRead(f);
    load.flows = [];
    this.log.emit('kv_transfer_failed', { time: this.sim.now, component: this.engineId, line: kvTransferFailedLine(load.requestId, why), requestId: load.requestId });
    if (load.attempts <= (this.options.maxRetries ?? 0) && load.prefill.stateOf(load.requestId) === 'held') {
      this.startReads(load);
      return;
    }
    this.finish(load, { status: 'failed', reason: 'transfer', error: why, finishedAt: this.sim.now });
  }

  private startHeartbeats(load: Load): void {
    const exp = load.prefill.cfg.profile.expiry;
    if (exp.kind !== 'lease') return;
    const beat = (): void => {
      if (load.finished) return;
      load.prefill.heartbeat(load.requestId);
      load.heartbeat = this.sim.schedule(exp.heartbeatS, beat);
    };
    load.heartbeat = this.sim.schedule(exp.heartbeatS, beat);
  }

  private finish(load: Load, r: LoadResult): void {
    if (load.finished) return;
    load.finished = true;
    this.loads.delete(load);
    if (load.heartbeat >= 0) this.sim.cancel(load.heartbeat);
    load.done(r);
  }

  /**
   * Gives up a request's load (the decode side stopped waiting): cancels its reads and finishes it as a failed
   * transfer with `reason`. No effect if the load already finished.
   */
  abandon(requestId: string, reason: string): void {
    for (const load of this.loads) {
      if (load.requestId !== requestId) continue;
      for (const f of load.flows) this.fabric.cancelRead(f);
      for (const hs of this.handshakes.values()) {
        const i = hs.waiting.indexOf(load);
        if (i >= 0) hs.waiting.splice(i, 1);
      }
      this.log.emit('kv_transfer_failed', { time: this.sim.now, component: this.engineId, line: kvTransferFailedLine(requestId, reason), requestId });
      this.finish(load, { status: 'failed', reason: 'transfer', error: reason, finishedAt: this.sim.now });
      return;
    }
  }

  /** The engine core died (EngineDeadError): every load on it fails, now and from now on. */
  die(cause: string): void {
    if (this.dead) return;
    this.dead = true;
    this.log.emit('engine_dead', { time: this.sim.now, component: this.engineId, line: engineDeadLine(this.engineId, cause) });
    this.handshaking = null;
    this.queue.length = 0;
    this.handshakes.clear();
    const all = [...this.loads];
    for (const load of all) {
      for (const f of load.flows) this.fabric.cancelRead(f);
      this.finish(load, { status: 'failed', reason: 'engine-dead', error: 'EngineDeadError', finishedAt: this.sim.now });
    }
  }
}
