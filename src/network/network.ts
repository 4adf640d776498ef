import { InvariantError } from '../errors.js';
import { removeAt, truncate, type EventHandle, type Simulator } from '../engine/index.js';
import { FlowImpl, type Flow, type FlowSpec } from './flow.js';
import { LinkImpl, type Ledger, type Link } from './link.js';
import { MaxMinSolver } from './maxmin.js';

/** A caller broke the network's contract (bad capacity, empty path, negative bytes...): a bug, not a user mistake. */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
}

export interface NetworkOptions {
  /** Runs after every rate recomputation; for invariant checks in tests and debugging, not for simulation logic. */
  onRecompute?: (network: Network) => void;
}

const NO_EVENT = -1;

/**
 * A flow-level network on the kernel, after SimGrid: flows share links max-min fairly, and rates are recomputed
 * whenever a flow starts moving, finishes or is cancelled.
 *
 * Two choices keep an event cheap when thousands of flows are in flight:
 * - One completion timer for the whole network, at the earliest predicted finish, instead of one kernel event per flow
 *   cancelled and rescheduled on every recomputation (which would leave O(flows) stale entries in the kernel's heap per
 *   event). Flows due at the same instant finish together, in id order, after one recomputation.
 * - Starts and cancels only mark the rates stale; one recomputation runs in a zero-delay event (after the events already
 *   queued for this instant), or at once if someone reads a rate. A batch of flows started together costs one.
 */
export class Network {
  private readonly linkList: LinkImpl[] = [];
  private readonly linksById = new Map<string, LinkImpl>();
  /** Flows moving bytes, by increasing id. */
  private readonly moving: FlowImpl[] = [];
  /**
   * Flows in their latency, by increasing id. Arrays rather than a Map of live flows: a Map emptied and refilled flow
   * by flow reallocates its table again and again, in the old generation once the Map lives there.
   */
  private readonly waiting: FlowImpl[] = [];
  /** Scratch for onTimer: the flows it retires. */
  private readonly finished: FlowImpl[] = [];
  private readonly ledger: Ledger;
  private readonly solver = new MaxMinSolver();
  /** Links carrying flows as of the last recomputation: the ones whose counters advance. */
  private active: readonly LinkImpl[] = [];
  private readonly retiredLinks: LinkImpl[] = [];
  private retireMark = 0;
  private nextId = 0;
  private stale = false;
  private flushHandle: EventHandle = NO_EVENT;
  private timer: EventHandle = NO_EVENT;
  private timerAt = Infinity;
  private recomputeCount = 0;
  private readonly onRecompute: ((network: Network) => void) | undefined;

  constructor(
    readonly sim: Simulator,
    options: NetworkOptions = {},
  ) {
    this.onRecompute = options.onRecompute;
    this.ledger = { sim, lastUpdate: sim.now, settle: () => this.settle() };
  }

  /** Adds a link of `capacity` bytes/s (finite, > 0) under a unique id. */
  addLink(id: string, capacity: number): Link {
    if (!(capacity > 0 && capacity < Infinity)) {
      throw new NetworkError(`link '${id}': capacity must be a finite number of bytes/s > 0, got ${capacity}`);
    }
    if (this.linksById.has(id)) throw new NetworkError(`link '${id}' already exists`);
    const link = new LinkImpl(this.ledger, id, capacity, this.linkList.length);
    this.linkList.push(link);
    this.linksById.set(id, link);
    return link;
  }

  /** The link with this id, if any. */
  link(id: string): Link | undefined {
    return this.linksById.get(id);
  }

  /** Every link, in the order added. */
  get links(): readonly Link[] {
    return this.linkList;
  }

  /** Flows waiting out their latency or moving, by id. A fresh array. */
  get activeFlows(): Flow[] {
    return [...this.waiting, ...this.moving].sort((a, b) => a.id - b.id);
  }

  /** How many flows are waiting or moving. */
  get activeFlowCount(): number {
    return this.waiting.length + this.moving.length;
  }

  /** How many times rates were recomputed: a cost measure. */
  get recomputations(): number {
    return this.recomputeCount;
  }

  /** Starts a flow now. Throws NetworkError on a malformed spec. */
  startFlow(spec: FlowSpec): Flow {
    const links = this.checkPath(spec.path);
    const { bytes } = spec;
    const latencyS = spec.latencyS ?? 0;
    if (!(bytes >= 0 && bytes < Infinity)) {
      throw new NetworkError(`flow bytes must be a finite number >= 0, got ${bytes}`);
    }
    if (!(latencyS >= 0 && latencyS < Infinity)) {
      throw new NetworkError(`flow latencyS must be a finite number >= 0, got ${latencyS}`);
    }
    const { rateCap } = spec;
    if (rateCap !== undefined && !(rateCap > 0 && rateCap < Infinity)) {
      throw new NetworkError(`flow rateCap must be a finite number of bytes/s > 0 or absent, got ${rateCap}`);
    }
    const flow = new FlowImpl(
      this.ledger,
      this.nextId++,
      links,
      bytes,
      latencyS,
      rateCap,
      this.sim.now,
      spec.onDone,
      spec.tag,
    );
    if (bytes > 0 && latencyS === 0) {
      this.move(flow);
      return flow;
    }
    this.waiting.push(flow); // the newest id: the order holds
    flow.startHandle = this.sim.schedule(latencyS, bytes === 0 ? this.finishEmpty : this.beginMoving, flow);
    return flow;
  }

  /** Stops a waiting or moving flow at once and frees its share; its onDone never runs. False if already over. */
  cancelFlow(flow: Flow): boolean {
    const f = this.own(flow);
    if (f.state === 'waiting') {
      this.sim.cancel(f.startHandle);
      f.startHandle = NO_EVENT;
      removeById(this.waiting, f.id);
    } else if (f.state === 'moving') {
      this.advance();
      removeById(this.moving, f.id);
      for (const link of f.links) removeById(link.flows, f.id);
      f.curRate = 0;
      this.markStale();
    } else {
      return false;
    }
    f.state = 'cancelled';
    return true;
  }

  /**
   * Invariants (tests, debug mode): no flow's remaining bytes below zero beyond its rounding tolerance, no negative
   * rate, no link carrying negative bytes, every flow listed as waiting or moving in that state. O(flows + links);
   * reads the books as they stand.
   */
  check(): void {
    for (const flow of this.waiting) {
      if (flow.state !== 'waiting') throw new InvariantError(`network: flow ${flow.id} is listed as waiting in state ${flow.state}`);
    }
    for (const flow of this.moving) {
      if (!(flow.rem >= -flow.tolerance) || !(flow.curRate >= 0) || flow.state !== 'moving') {
        throw new InvariantError(
          `no flow goes negative: flow ${flow.id}${flow.tag ? ` (${flow.tag})` : ''} of ${flow.bytes} B has ${flow.rem} B remaining ` +
            `(tolerance ${flow.tolerance} B), rate ${flow.curRate} B/s, state ${flow.state}`,
        );
      }
    }
    for (const link of this.linkList) {
      if (!(link.carried >= 0) || !(link.busy >= 0)) {
        throw new InvariantError(`no link counter goes negative: link ${link.id} carried ${link.carried} B, busy ${link.busy} s`);
      }
    }
  }

  /** Brings rates up to date now if a start or cancel made them stale. */
  settle(): void {
    if (this.stale) this.recompute();
  }

  private checkPath(path: readonly Link[]): LinkImpl[] {
    if (!Array.isArray(path) || path.length === 0) throw new NetworkError('a flow needs a path of at least one link');
    const links: LinkImpl[] = [];
    for (const link of path) {
      if (!(link instanceof LinkImpl) || link.ledger !== this.ledger) {
        throw new NetworkError(`link '${(link as Link | undefined)?.id}' does not belong to this network`);
      }
      // Crossing a link twice would charge it twice; a full-duplex hop is two links, one per direction.
      if (links.includes(link)) throw new NetworkError(`link '${link.id}' appears twice in one path`);
      links.push(link);
    }
    return links;
  }

  private own(flow: Flow): FlowImpl {
    if (!(flow instanceof FlowImpl) || flow.ledger !== this.ledger) {
      throw new NetworkError(`flow ${flow.id} does not belong to this network`);
    }
    return flow;
  }

  /** A flow's latency is over. */
  private readonly beginMoving = (flow: FlowImpl): void => {
    removeById(this.waiting, flow.id);
    flow.startHandle = NO_EVENT;
    this.move(flow);
  };

  private move(flow: FlowImpl): void {
    this.advance();
    flow.state = 'moving';
    insertById(this.moving, flow);
    for (const link of flow.links) insertById(link.flows, flow);
    this.markStale();
  }

  private readonly finishEmpty = (flow: FlowImpl): void => {
    removeById(this.waiting, flow.id);
    flow.startHandle = NO_EVENT;
    flow.state = 'done';
    flow.finishedAt = this.sim.now;
    flow.onDone?.(flow);
  };

  private markStale(): void {
    this.stale = true;
    if (this.flushHandle === NO_EVENT) this.flushHandle = this.sim.schedule(0, this.flush);
  }

  private readonly flush = (): void => {
    this.flushHandle = NO_EVENT;
    this.settle();
  };

  /** Moves every flow's bytes and every link's counters forward to now at the current rates. */
  private advance(): void {
    const now = this.sim.now;
    const dt = now - this.ledger.lastUpdate;
    if (dt <= 0) return;
    this.ledger.lastUpdate = now;
    for (const flow of this.moving) {
      const moved = flow.curRate * dt;
      flow.rem -= moved;
      for (const link of flow.links) link.carried += moved;
    }
    for (const link of this.active) if (link.alloc > 0) link.busy += dt;
  }

  private recompute(): void {
    this.advance();
    this.stale = false;
    if (this.flushHandle !== NO_EVENT) {
      this.sim.cancel(this.flushHandle);
      this.flushHandle = NO_EVENT;
    }
    this.active = this.solver.solve(this.moving, this.linkList);
    const now = this.sim.now;
    let next = Infinity;
    for (const flow of this.moving) {
      const rate = flow.curRate;
      if (!(rate > 0 && rate < Infinity)) {
        throw new InvariantError(`network: flow ${flow.id} got rate ${rate} bytes/s; every moving flow must progress`);
      }
      flow.eta = now + Math.max(0, flow.rem) / rate;
      if (flow.eta < next) next = flow.eta;
    }
    this.armTimer(next);
    this.recomputeCount++;
    this.onRecompute?.(this);
  }

  private armTimer(at: number): void {
    if (this.timer !== NO_EVENT && this.timerAt === at) return; // armed for that time already
    if (this.timer !== NO_EVENT) this.sim.cancel(this.timer);
    this.timer = at === Infinity ? NO_EVENT : this.sim.at(at, this.onTimer);
    this.timerAt = at;
  }

  /** Retires every flow due now, recomputes once, then tells their owners in id order. */
  private readonly onTimer = (): void => {
    this.timer = NO_EVENT;
    this.timerAt = Infinity;
    this.advance();
    const now = this.sim.now;
    const finished = this.finished;
    const moving = this.moving;
    let kept = 0;
    for (const flow of moving) {
      // eta <= now catches the flow the timer was set for even if rounding left it a few bytes short.
      if (flow.eta <= now || flow.rem <= flow.tolerance) finished.push(flow);
      else moving[kept++] = flow;
    }
    truncate(moving, kept);
    const retired = this.retiredLinks;
    truncate(retired, 0);
    const mark = ++this.retireMark;
    for (const flow of finished) {
      // Bytes that rounding left unmoved (or moved twice) are settled here, so a link carries exactly what crossed it.
      for (const link of flow.links) {
        link.carried += flow.rem;
        if (link.retired !== mark) {
          link.retired = mark;
          retired.push(link);
        }
      }
      flow.rem = 0;
      flow.curRate = 0;
      flow.state = 'done';
      flow.finishedAt = now;
    }
    for (const link of retired) removeNotMoving(link.flows);
    this.recompute();
    // Callbacks come last, on a consistent network: they may start or cancel flows (never run this timer again).
    for (const flow of finished) flow.onDone?.(flow);
    truncate(finished, 0);
  };
}

/** Position of the first flow whose id is >= id, in an array sorted by id. */
function indexById(flows: readonly FlowImpl[], id: number): number {
  let lo = 0;
  let hi = flows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (flows[mid]!.id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertById(flows: FlowImpl[], flow: FlowImpl): void {
  const at = indexById(flows, flow.id);
  if (at === flows.length) flows.push(flow);
  else flows.splice(at, 0, flow);
}

/** Removes the flow with this id, which must be there, from an array sorted by id. */
function removeById(flows: FlowImpl[], id: number): void {
  const at = indexById(flows, id);
  if (flows[at]?.id !== id) throw new InvariantError(`network: flow ${id} is not where the books list it`);
  removeAt(flows, at);
}

function removeNotMoving(flows: FlowImpl[]): void {
  let kept = 0;
  for (const flow of flows) if (flow.state === 'moving') flows[kept++] = flow;
  truncate(flows, kept);
}
