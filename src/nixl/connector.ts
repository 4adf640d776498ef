import type { ConnectorProfile, LlmSpec, TransportSpec } from '../spec/catalog.js';
import { Bag, type EventHandle, type Simulator } from '../engine/index.js';
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
import { blocksPerRequest, descriptorsPerBlock, kvReplication, readPlan, readSchedule, type RankRead } from '../physics/index.js';
import type { KvLayout } from '../spec/experiment.js';
import { NixlAgent } from './agent.js';
import { compatHash, engineUnregisteredText, handshakeVerdict } from './compat.js';
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
  /** How the KV cache is laid out and registered with NIXL (descriptors per block of a READ); default HND. */
  kvLayout?: KvLayout;
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
  /**
   * The prefill engine's restart count when it finished the request. vLLM gives a restarted engine a new engine id;
   * nixlsim keeps the id and counts restarts, so that reads of blocks a restart wiped fail.
   */
  remoteIncarnation: number;
}

export type LoadResult =
  | { status: 'ok'; bytes: number; startedAt: number; finishedAt: number }
  /** The reads finished after prefill had released the blocks: what arrived may be someone else's KV. */
  | { status: 'stale'; bytes: number; startedAt: number; finishedAt: number }
  | { status: 'failed'; reason: 'handshake' | 'transfer' | 'engine-dead' | 'restart'; error: string; finishedAt: number };

/** One NIXL agent per rank of an engine, all carrying the engine's compatibility hash. */
function makeAgents(cfg: EngineConfig): NixlAgent[] {
  const hash = compatHash(cfg.llm, cfg.profile);
  return Array.from({ length: cfg.tp }, (_, r) => new NixlAgent(cfg.engineId, r, cfg.tp, cfg.llm, cfg.blockSize, cfg.numBlocks, hash));
}

/**
 * A finished request prefill keeps the blocks of: the params it hands decode, and its own books. Decode hands the
 * params back with each call, so prefill finds its record without a lookup by request id.
 */
class Held implements KvTransferParams {
  readonly remoteEngineId: string;
  readonly remoteTpSize: number;
  readonly remoteBlockSize: number;
  readonly remoteBlocks: number;
  readonly remoteIncarnation: number;
  /** Bytes each prefill rank registered for the request (its agents' memory). */
  readonly bytesPerRank: number[];
  /** Notifications still expected per prefill rank; the blocks are freed when all reach zero. */
  pending: number[] = [];
  expiresAt: number;
  timer: EventHandle = -1;
  state: 'held' | 'freed' | 'expired' = 'held';
  /** Position among the records prefill keeps (held, or expired and not yet forgotten); -1 once forgotten. */
  bagAt = -1;

  constructor(
    readonly owner: PrefillConnector,
    readonly requestId: string,
    readonly tokens: number,
    /** When it was finished, against the others: the order a restart releases them in. */
    readonly order: number,
    readonly onRelease: ((why: 'read' | 'expired' | 'lost') => void) | undefined,
  ) {
    const cfg = owner.cfg;
    this.remoteEngineId = cfg.engineId;
    this.remoteTpSize = cfg.tp;
    this.remoteBlockSize = cfg.blockSize;
    this.remoteBlocks = blocksPerRequest(tokens, cfg.blockSize);
    this.remoteIncarnation = owner.incarnation;
    this.bytesPerRank = owner.agents.map((a) => a.bytesFor(this.remoteBlocks));
    this.expiresAt = owner.sim.now;
  }
}

export class PrefillConnector {
  readonly agents: NixlAgent[];
  /** The records of requests it holds, or expired and remembers for a while (a late read is then known as stale). */
  private readonly held = new Bag<Held>();
  private finished = 0;
  /** False while the worker is down (restart): its side channel does not answer. */
  alive = true;
  /** Bumped by each restart: a decode engine registered with an older one must handshake again. */
  incarnation = 0;
  /** Bytes the prefill ranks held for requests that decode read in full (each rank's bytes counted). */
  bytesHeldForReads = 0;
  /** The same as distinct KV content: each byte once however many ranks replicate it (the bytes invariant). */
  kvContentServed = 0;

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

  /** Requests whose blocks are held for a decode read (or expired, and not yet forgotten). */
  get holding(): number {
    return this.held.size;
  }

  /**
   * Prefill finished `requestId`: keep its blocks for decode and start the expiry clock. `onRelease` runs when the
   * blocks are given back to the pool, read or expired. Decode names the request by the params returned.
   */
  finishRequest(requestId: string, tokens: number, onRelease?: (why: 'read' | 'expired' | 'lost') => void): KvTransferParams {
    const exp = this.cfg.profile.expiry;
    const ttl = exp.kind === 'abort-timeout' ? exp.timeoutS : exp.leaseS;
    const h = new Held(this, requestId, tokens, this.finished++, onRelease);
    h.expiresAt = this.sim.now + ttl;
    h.timer = this.sim.schedule(ttl, this.expire, h);
    this.held.add(h);
    return h;
  }

  /** The record behind params this connector handed out, while it remembers it. */
  private record(params: KvTransferParams): Held | undefined {
    return params instanceof Held && params.owner === this && this.held.has(params) ? params : undefined;
  }

  /**
   * 'held' while decode may read; 'expired' once released unread (for an hour); 'unknown' once the blocks were freed
   * after every read notified, or forgotten.
   */
  stateOf(params: KvTransferParams): 'held' | 'expired' | 'unknown' {
    const h = this.record(params);
    return h === undefined ? 'unknown' : h.state === 'freed' ? 'unknown' : h.state;
  }

  /** Decode announces how many notifications each prefill rank will get for this request (vLLM's consumer count). */
  expectReads(params: KvTransferParams, perRank: number[]): void {
    const h = this.record(params);
    if (h && h.state === 'held' && h.pending.length === 0) h.pending = perRank.slice();
  }

  /** A decode rank's READ from prefill rank `rank` completed and notified. */
  notify(params: KvTransferParams, rank: number): void {
    const h = this.record(params);
    if (!h || h.state !== 'held') return; // after expiry: vLLM logs "Potentially invalid KV blocks ... may have expired"
    const left = h.pending[rank] ?? 1;
    if (left <= 0) {
      throw new InvariantError(
        `no count goes negative: prefill ${this.engineId} rank ${rank} notified for request ${h.requestId} more often than decode announced (${h.pending.join(', ')} pending per rank)`,
      );
    }
    h.pending[rank] = left - 1;
    if (h.pending.every((n) => n <= 0)) {
      this.sim.cancel(h.timer);
      h.state = 'freed';
      this.held.delete(h);
      const bytes = h.bytesPerRank.reduce((s, b) => s + b, 0);
      this.bytesHeldForReads += bytes;
      this.kvContentServed += bytes / kvReplication(this.cfg.llm, this.cfg.tp);
      h.onRelease?.('read');
    }
  }

  /**
   * The worker restarted: its GPU memory is gone. Every request it held is released at once (onRelease 'lost') and
   * forgotten, so a decode read of it fails; decode engines registered with it must handshake again.
   */
  restart(): void {
    this.incarnation++;
    const all = [...this.held].sort((a, b) => a.order - b.order);
    this.held.clear();
    for (const h of all) {
      this.sim.cancel(h.timer);
      const was = h.state;
      h.state = 'expired';
      if (was === 'held') h.onRelease?.('lost');
    }
  }

  /** Invariants: no request's pending notification count below zero. O(held requests). */
  check(): void {
    for (const h of this.held) {
      if (h.pending.some((n) => n < 0)) {
        throw new InvariantError(`no count goes negative: prefill ${this.engineId} request ${h.requestId} has pending notifications ${h.pending.join(', ')}`);
      }
    }
  }

  /** Lease builds: a decode heartbeat extends the lease to now + extendS (never shortens it). */
  heartbeat(params: KvTransferParams): void {
    const exp = this.cfg.profile.expiry;
    const h = this.record(params);
    if (exp.kind !== 'lease' || !h || h.state !== 'held') return;
    const until = this.sim.now + exp.extendS;
    if (until <= h.expiresAt) return;
    h.expiresAt = until;
    this.sim.cancel(h.timer);
    h.timer = this.sim.at(until, this.expire, h);
  }

  private readonly expire = (h: Held): void => {
    if (h.state !== 'held' || !this.held.has(h)) return;
    h.state = 'expired';
    const exp = this.cfg.profile.expiry;
    const line = exp.kind === 'abort-timeout' ? expiredLine(h.requestId, exp.timeoutS) : leaseExpiredLine(h.requestId);
    // Every prefill rank's worker runs its own get_finished() and logs its own line.
    for (const a of this.agents) {
      this.log.emit('kv_blocks_expired', { time: this.sim.now, component: a.name, line, requestId: h.requestId });
    }
    // Keep the record (state 'expired') a while so that a late read is recognised as stale, then forget it.
    this.sim.schedule(3600, () => this.held.delete(h));
    h.onRelease?.('expired');
  };
}

/** One READ of a request: a (decode rank, prefill rank) pair of the read plan, and how it stands. */
interface ReadSlot {
  read: RankRead;
  flow: Flow | null;
  done: boolean;
}

interface Load {
  requestId: string;
  params: KvTransferParams;
  prefill: PrefillConnector;
  done: (r: LoadResult) => void;
  startedAt: number;
  slots: ReadSlot[];
  readsLeft: number;
  bytes: number;
  stale: boolean;
  /** Attempts issued (1 on the first); a callback of an earlier attempt is ignored. */
  attempts: number;
  heartbeat: EventHandle;
  finished: boolean;
  /** When it started, against the others: the order dropAll ends them in. */
  order: number;
  /** Position among the loads in flight (a Bag). */
  bagAt: number;
}

/**
 * How long registering a prefill engine keeps a decode engine after the side channel's round trips: vLLM's
 * add_remote_agent, on each decode rank (its own process, so the ranks work side by side) and for each prefill rank it
 * reads in turn, builds one descriptor per block of that rank's whole KV pool per region it reads (descriptorsPerBlock:
 * per layer, K and V, under HND) and hands the list to NIXL (get_xfer_descs, prep_xfer_dlist), each descriptor at the
 * profile's handshake.prepPerDescriptorS. The slowest decode rank decides. `targetRanks[d]` are the prefill ranks
 * decode rank d reads (handshakeVerdict).
 */
export function remoteDescriptorPrepS(decode: EngineConfig, prefill: EngineConfig, targetRanks: number[][]): number {
  const perDescriptor = decode.profile.handshake.prepPerDescriptorS;
  if (perDescriptor === 0) return 0;
  const perRemoteRank = prefill.numBlocks * descriptorsPerBlock(decode.llm, decode.kvLayout ?? 'HND', prefill.tp, decode.tp, prefill.blockSize);
  let most = 0;
  for (const ranks of targetRanks) most = Math.max(most, ranks.length);
  return most * perRemoteRank * perDescriptor;
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
  /** Registered prefill engines, with the incarnation (restart count) they had at the handshake. */
  private readonly registered = new Map<string, number>();
  private readonly handshakes = new Map<string, Handshake>();
  private readonly queue: string[] = [];
  private handshaking: string | null = null;
  private readonly loads = new Bag<Load>();
  private started = 0;
  /** Bumped by restart() and die(): a handshake step scheduled before it finds nothing to do. */
  private generation = 0;
  /** Wire bytes of the loads that finished ok (every decode rank's reads). */
  bytesRead = 0;
  /** The same as distinct KV content (each byte once however many decode ranks hold it): the bytes invariant. */
  kvContentRead = 0;
  /** Failed attempts re-issued under the retry policy. */
  retries = 0;

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

  /** Pulls a request's KV from `prefill`; `done` runs exactly once. */
  load(prefill: PrefillConnector, params: KvTransferParams, done: (r: LoadResult) => void): void {
    const load: Load = {
      requestId: params.requestId,
      params,
      prefill,
      done,
      startedAt: this.sim.now,
      slots: [],
      readsLeft: 0,
      bytes: 0,
      stale: false,
      attempts: 0,
      heartbeat: -1,
      finished: false,
      order: this.started++,
      bagAt: -1,
    };
    if (this.dead) {
      this.sim.schedule(0, () => done({ status: 'failed', reason: 'engine-dead', error: 'EngineDeadError', finishedAt: this.sim.now }));
      return;
    }
    this.loads.add(load);
    this.startHeartbeats(load);
    // A prefill worker that restarted since the handshake has new agents: its old registration is stale.
    if (this.registered.has(prefill.engineId) && this.registered.get(prefill.engineId) !== prefill.incarnation) {
      this.registered.delete(prefill.engineId);
      this.remoteBlockSize.delete(prefill.engineId);
    }
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

  /**
   * Registers `prefill` before any request needs it, when the handshake would accept the pair (deployment.prewarmed):
   * as if the handshake had run before the simulation started. A pair the handshake refuses is left to fail as usual.
   */
  preRegister(prefill: PrefillConnector): void {
    const p = prefill.cfg;
    const verdict = handshakeVerdict(this.cfg.profile, {
      prefillTp: p.tp,
      decodeTp: this.cfg.tp,
      prefillBlockSize: p.blockSize,
      decodeBlockSize: this.cfg.blockSize,
      llm: this.cfg.llm,
      prefillLlm: p.llm,
      prefillProfile: p.profile,
      engineId: prefill.engineId,
    });
    if (verdict.outcome !== 'ok') return;
    this.registered.set(prefill.engineId, prefill.incarnation);
    this.remoteBlockSize.set(prefill.engineId, p.blockSize);
  }

  /** One handshake at a time per decode engine: the next unknown prefill engine in arrival order. */
  private pump(): void {
    if (this.handshaking !== null || this.queue.length === 0 || this.dead) return;
    const engineId = this.queue.shift()!;
    this.handshaking = engineId;
    const hs = this.handshakes.get(engineId)!;
    const p = hs.prefill;
    const gen = this.generation;
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
        if (gen !== this.generation) return;
        const e = this.cfg.profile.errors.handshakeTimeout;
        this.handshakeFailed(engineId, `${e.error}: no reply from ${engineId} within ${t} s`, true);
      });
      return;
    }
    // One metadata request and reply on the side channel per target prefill rank; then, once the pair is accepted,
    // each decode rank prepares the descriptor lists of the prefill ranks it reads (add_remote_agent).
    const targets = verdict.outcome === 'ok' ? new Set(verdict.targetRanks.flat()).size : 1;
    const prep = verdict.outcome === 'ok' ? remoteDescriptorPrepS(this.cfg, p.cfg, verdict.targetRanks) : 0;
    const incarnation = p.incarnation;
    this.sim.schedule(2 * this.options.sideChannelLatencyS * targets + prep, () => {
      if (gen !== this.generation) return;
      if (verdict.outcome === 'ok') {
        this.registered.set(engineId, incarnation);
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
        if (this.remoteBlockSize.has(engineId)) throw new InvariantError('a crashed handshake registered its engine');
        this.die(engineUnregisteredText(this.cfg.profile, engineId));
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
      this.die(engineUnregisteredText(this.cfg.profile, engineId));
      return;
    }
    for (const load of hs.waiting) this.finish(load, { status: 'failed', reason: 'handshake', error: reason, finishedAt: this.sim.now });
    this.pump();
  }

  /** The first attempt: plans the READs and tells prefill how many notifications each of its ranks will get. */
  private startReads(load: Load): void {
    const p = load.prefill;
    const plan = readPlan(this.cfg.llm, load.params.tokens, p.cfg.tp, this.cfg.tp, p.cfg.blockSize, this.cfg.kvLayout ?? 'HND');
    load.slots = plan.perRead.map((read) => ({ read, flow: null, done: false }));
    load.readsLeft = plan.perRead.length;
    load.bytes = plan.bytesTotal;
    const perRank = new Array<number>(p.cfg.tp).fill(0);
    for (const r of plan.perRead) perRank[r.prefillRank]!++;
    // MLA: ranks nobody reads still expect one notification (vLLM notifies the rest of the group), so that all free.
    p.expectReads(load.params, perRank.map((n) => Math.max(1, n)));
    this.issue(load);
    // Ranks nobody reads from (MLA with prefill wider) get their notification now.
    perRank.forEach((n, rank) => {
      if (n === 0) p.notify(load.params, rank);
    });
  }

  /** Posts the READs of an attempt: every read not yet done (all of them on the first attempt). */
  private issue(load: Load): void {
    const p = load.prefill;
    const attempt = ++load.attempts;
    // The prefill worker restarted since it finished this request: the blocks are gone and so is the agent.
    const gone = p.incarnation !== load.params.remoteIncarnation;
    // When each READ of this attempt starts and how fast its posting lets it go (a rank posts one after another).
    const todo = load.slots.filter((slot) => !slot.done);
    const timing = readSchedule(
      todo.map((slot) => slot.read),
      this.transport,
    );
    todo.forEach((slot, k) => {
      const r = slot.read;
      const { startS: latencyS, rateCap } = timing[k]!;
      if (gone) {
        slot.flow = null;
        this.sim.schedule(latencyS, () => this.readFailed(load, attempt, `getXferStatus: backend '${this.transport.backend}' returned error status (remote agent ${p.engineId} gone: worker restarted)`));
        return;
      }
      slot.flow = this.fabric.startRead({
        path: this.fabric.path(p.engineId, r.prefillRank, this.engineId, r.decodeRank),
        bytes: r.bytes,
        latencyS,
        ...(rateCap !== undefined ? { rateCap } : {}),
        onDone: () => this.readDone(load, slot, attempt),
        onFail: (why) => this.readFailed(load, attempt, why),
      });
    });
  }

  private readDone(load: Load, slot: ReadSlot, attempt: number): void {
    if (load.finished || attempt !== load.attempts || slot.done) return;
    slot.done = true;
    slot.flow = null;
    const state = load.prefill.stateOf(load.params);
    // Expired, or expired so long ago that prefill forgot it: whatever arrived may be someone else's KV.
    if (state === 'expired' || state === 'unknown') load.stale = true;
    load.prefill.notify(load.params, slot.read.prefillRank);
    if (--load.readsLeft > 0) return;
    const content = this.checkBytes(load);
    if (load.stale) {
      this.log.emit('stale_kv_read', { time: this.sim.now, component: this.engineId, line: staleReadLine(load.requestId), requestId: load.requestId });
      this.finish(load, { status: 'stale', bytes: load.bytes, startedAt: load.startedAt, finishedAt: this.sim.now });
      return;
    }
    this.bytesRead += load.bytes;
    this.kvContentRead += content;
    this.finish(load, { status: 'ok', bytes: load.bytes, startedAt: load.startedAt, finishedAt: this.sim.now });
  }

  /**
   * The bytes invariant of a completed load: every decode rank read exactly the bytes it holds for the request's
   * token slots, no READ asked a prefill rank for more than that rank registered, and the distinct KV read equals the
   * distinct KV the prefill ranks held (with asymmetric TP one decode rank reads slices of several prefill ranks, or
   * several decode ranks slices of one; the totals must still match). Returns the distinct KV bytes read.
   */
  private checkBytes(load: Load): number {
    const p = load.prefill;
    const slotsHeld = load.params.remoteBlocks * load.params.remoteBlockSize;
    const held = p.agents.map((a) => a.bytesFor(load.params.remoteBlocks));
    const got = new Array<number>(this.cfg.tp).fill(0);
    for (const { read, done } of load.slots) {
      if (!done) throw new InvariantError(`a load completes only when all its READs have: ${this.where(load)}, READ ${read.prefillRank} -> ${read.decodeRank} not done`);
      if (read.bytes > held[read.prefillRank]! * (1 + 1e-12)) {
        throw new InvariantError(`a READ takes no more than its prefill rank registered: ${this.where(load)}, rank ${read.prefillRank} held ${held[read.prefillRank]} B, a READ took ${read.bytes} B`);
      }
      got[read.decodeRank]! += read.bytes;
    }
    got.forEach((bytes, rank) => {
      const a = this.agents[rank]!;
      const need = (a.bytesFor(1) / a.blockSize) * slotsHeld;
      if (!nearlyEqual(bytes, need)) {
        throw new InvariantError(`each decode rank reads what it holds: ${this.where(load)}, decode rank ${rank} read ${bytes} B, needs ${need} B for ${slotsHeld} token slots`);
      }
    });
    const content = got.reduce((s, b) => s + b, 0) / kvReplication(this.cfg.llm, this.cfg.tp);
    const heldContent = held.reduce((s, b) => s + b, 0) / kvReplication(p.cfg.llm, p.cfg.tp);
    if (!nearlyEqual(content, heldContent)) {
      throw new InvariantError(
        `bytes read by decode ranks equal the bytes the prefill ranks held: ${this.where(load)}, decode read ${got.join(' + ')} B ` +
          `(${content} B distinct), prefill held ${held.join(' + ')} B (${heldContent} B distinct)`,
      );
    }
    return content;
  }

  /** The load, as the bytes invariant's messages name it (built only when one is thrown, not for every load). */
  private where(load: Load): string {
    const p = load.prefill;
    return `request ${load.requestId} (${p.engineId} TP${p.cfg.tp} -> ${this.engineId} TP${this.cfg.tp})`;
  }

  private readFailed(load: Load, attempt: number, why: string): void {
    if (load.finished || attempt !== load.attempts) return;
    for (const slot of load.slots) {
      if (slot.done) continue;
      this.fabric.cancelRead(slot.flow);
      slot.flow = null;
    }
    this.log.emit('kv_transfer_failed', { time: this.sim.now, component: this.engineId, line: kvTransferFailedLine(load.requestId, why), requestId: load.requestId });
    if (load.attempts <= (this.options.maxRetries ?? 0) && load.prefill.stateOf(load.params) === 'held') {
      // Retry what did not arrive: the READs that completed have notified prefill and are not read again.
      this.retries++;
      this.issue(load);
      return;
    }
    this.finish(load, { status: 'failed', reason: 'transfer', error: why, finishedAt: this.sim.now });
  }

  private startHeartbeats(load: Load): void {
    const exp = load.prefill.cfg.profile.expiry;
    if (exp.kind !== 'lease') return;
    const beat = (): void => {
      if (load.finished) return;
      load.prefill.heartbeat(load.params);
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

  private cancelReads(load: Load): void {
    for (const slot of load.slots) {
      this.fabric.cancelRead(slot.flow);
      slot.flow = null;
    }
  }

  /**
   * Gives up a request's load (the decode side stopped waiting): cancels its reads and finishes it as a failed
   * transfer with `reason`. No effect if the load already finished.
   */
  abandon(requestId: string, reason: string): void {
    let load: Load | undefined;
    for (const l of this.loads) if (l.requestId === requestId && (load === undefined || l.order < load.order)) load = l;
    if (load === undefined) return;
    this.cancelReads(load);
    for (const hs of this.handshakes.values()) {
      const i = hs.waiting.indexOf(load);
      if (i >= 0) hs.waiting.splice(i, 1);
    }
    this.log.emit('kv_transfer_failed', { time: this.sim.now, component: this.engineId, line: kvTransferFailedLine(requestId, reason), requestId });
    this.finish(load, { status: 'failed', reason: 'transfer', error: reason, finishedAt: this.sim.now });
  }

  /** Ends every load with `result` and forgets the handshakes in progress. */
  private dropAll(result: () => LoadResult): void {
    this.generation++;
    this.handshaking = null;
    this.queue.length = 0;
    this.handshakes.clear();
    for (const load of [...this.loads].sort((a, b) => a.order - b.order)) {
      this.cancelReads(load);
      this.finish(load, result());
    }
  }

  /** The engine core died (EngineDeadError): every load on it fails, now and from now on. */
  die(cause: string): void {
    if (this.dead) return;
    this.dead = true;
    this.log.emit('engine_dead', { time: this.sim.now, component: this.engineId, line: engineDeadLine(this.engineId, cause) });
    this.dropAll(() => ({ status: 'failed', reason: 'engine-dead', error: 'EngineDeadError', finishedAt: this.sim.now }));
  }

  /**
   * The worker restarted: its loads fail (their reads are cancelled; prefill keeps those blocks until they expire) and
   * the new process knows no prefill engine, so it handshakes again.
   */
  restart(): void {
    this.dropAll(() => ({ status: 'failed', reason: 'restart', error: `worker ${this.engineId} restarting`, finishedAt: this.sim.now }));
    this.registered.clear();
    this.remoteBlockSize.clear();
  }

  /** Invariants: no load with a negative count of READs left. O(loads in flight). */
  check(): void {
    for (const load of this.loads) {
      if (load.readsLeft < 0 || load.finished) {
        throw new InvariantError(`no count goes negative: ${this.engineId} load of request ${load.requestId} has ${load.readsLeft} READs left (finished ${load.finished})`);
      }
    }
  }
}

/** Equal up to floating-point rounding (byte counts are whole numbers well under 2^53; shares may be fractions). */
export function nearlyEqual(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}
