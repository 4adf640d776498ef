import type { Simulator } from '../engine/index.js';
import type { FlowImpl } from './flow.js';

/**
 * What links and flows share with their network so that their getters can answer "as of now" between events:
 * state is only brought up to date at events (the last update), and the rest is extrapolated at the current rates.
 */
export interface Ledger {
  readonly sim: Simulator;
  /** Simulated time up to which every flow's remaining bytes and every link's counters have been advanced. */
  lastUpdate: number;
  /** Recomputes rates now if a flow started or was cancelled since the last recomputation. */
  settle(): void;
}

/** A shared resource with a capacity in bytes/s: a NIC rail, a node's PCIe, an NVLink domain, a fabric. */
export interface Link {
  readonly id: string;
  /** Bytes per second. */
  readonly capacity: number;
  /** Flows moving bytes over it now (flows still in their latency are not counted). */
  readonly flowCount: number;
  /** The sum of those flows' current rates, bytes/s; at most the capacity. */
  readonly allocated: number;
  /** Bytes that crossed it since the network was created, up to now. */
  readonly bytesCarried: number;
  /** Seconds during which at least one flow was moving bytes over it. */
  readonly busyTime: number;
  /** bytesCarried / (capacity x now): the share of its capacity used over [0, now]; 0 at t = 0. */
  readonly utilisation: number;
  /** bytesCarried / (capacity x windowS): the share of its capacity used over a window of that length (> 0). */
  utilisationOver(windowS: number): number;
}

export class LinkImpl implements Link {
  /** Moving flows over this link, in increasing id order. */
  readonly flows: FlowImpl[] = [];
  alloc = 0;
  carried = 0;
  busy = 0;
  // Scratch for the max-min solver, kept on the link so that a recomputation allocates nothing.
  rem = 0;
  unfrozen = 0;
  seen = 0;
  touched = 0;
  /** Scratch for the network when it retires finished flows. */
  retired = 0;

  constructor(
    readonly ledger: Ledger,
    readonly id: string,
    readonly capacity: number,
    /** Position in the network's link list; the solver's tie-break and heap key. */
    readonly index: number,
  ) {}

  get flowCount(): number {
    return this.flows.length;
  }

  get allocated(): number {
    this.ledger.settle();
    return this.alloc;
  }

  get bytesCarried(): number {
    return this.carried + this.alloc * this.sinceUpdate();
  }

  get busyTime(): number {
    return this.busy + (this.alloc > 0 ? this.sinceUpdate() : 0);
  }

  get utilisation(): number {
    const now = this.ledger.sim.now;
    return now > 0 ? this.utilisationOver(now) : 0;
  }

  utilisationOver(windowS: number): number {
    return this.bytesCarried / (this.capacity * windowS);
  }

  // Rates only change at recomputations, which always advance the counters first, so extrapolating is exact.
  private sinceUpdate(): number {
    return this.ledger.sim.now - this.ledger.lastUpdate;
  }
}
