import type { EventHandle } from '../engine/index.js';
import type { Ledger, Link, LinkImpl } from './link.js';

/** waiting: in its latency, holding no bandwidth; moving: sharing its path; then done or cancelled. */
export type FlowState = 'waiting' | 'moving' | 'done' | 'cancelled';

/** What to send: `bytes` over `path`, after `latencyS`, at most `rateCap` bytes/s. */
export interface FlowSpec {
  /** The links crossed, each at most once; at least one. */
  path: readonly Link[];
  /** >= 0; a zero-byte flow finishes right after its latency. */
  bytes: number;
  /** Seconds before the first byte moves (propagation, per-message setup); holds no bandwidth meanwhile. Default 0. */
  latencyS?: number;
  /** A speed the flow never exceeds even alone (bytes/s, > 0), e.g. one TCP stream; modelled as a private link. */
  rateCap?: number;
  /** Runs from its own kernel event when the last byte arrives; never from inside startFlow, never after a cancel. */
  onDone?: (flow: Flow) => void;
  /** Free text for logs and reports. */
  tag?: string;
}

/** A transfer in progress or finished. Read-only; getters answer as of the current simulated time. */
export interface Flow {
  /** Increasing in the order flows were started: the order every tie is broken in. */
  readonly id: number;
  readonly bytes: number;
  readonly path: readonly Link[];
  readonly tag: string | undefined;
  readonly latencyS: number;
  readonly rateCap: number | undefined;
  /** When startFlow was called. */
  readonly createdAt: number;
  /** When it starts (or started) moving bytes: createdAt + latencyS. */
  readonly startedAt: number;
  /** When its last byte arrived; undefined until done, and for ever if cancelled. */
  readonly finishedAt: number | undefined;
  readonly state: FlowState;
  /** Current rate in bytes/s; 0 unless moving. */
  readonly rate: number;
  /** Bytes still to move as of now; frozen at the moment of a cancel. */
  readonly remaining: number;
}

export class FlowImpl implements Flow {
  state: FlowState = 'waiting';
  finishedAt: number | undefined = undefined;
  /** Remaining bytes as of ledger.lastUpdate; may dip a hair below 0 from rounding before the flow is retired. */
  rem: number;
  curRate = 0;
  /** Predicted finish time as of the last recomputation. */
  eta = Infinity;
  /** A flow this close to empty is done: absorbs the rounding of rate x elapsed. */
  readonly tolerance: number;
  /** The latency event while waiting. */
  startHandle: EventHandle = -1;
  /** Scratch for the max-min solver. */
  frozen = false;

  constructor(
    readonly ledger: Ledger,
    readonly id: number,
    readonly links: readonly LinkImpl[],
    readonly bytes: number,
    readonly latencyS: number,
    readonly rateCap: number | undefined,
    readonly createdAt: number,
    readonly onDone: ((flow: Flow) => void) | undefined,
    readonly tag: string | undefined,
  ) {
    this.rem = bytes;
    this.tolerance = Math.max(1, 1e-6 * bytes);
  }

  get path(): readonly Link[] {
    return this.links;
  }

  get startedAt(): number {
    return this.createdAt + this.latencyS;
  }

  get rate(): number {
    if (this.state !== 'moving') return 0;
    this.ledger.settle();
    return this.curRate;
  }

  get remaining(): number {
    switch (this.state) {
      case 'waiting':
        return this.bytes;
      case 'moving':
        return Math.max(0, this.rem - this.curRate * (this.ledger.sim.now - this.ledger.lastUpdate));
      case 'done':
        return 0;
      case 'cancelled':
        return Math.max(0, this.rem);
    }
  }
}
