import type { EventHandle, Simulator } from '../engine/simulator.js';
import type { RandomStream } from '../engine/random.js';
import { InvariantError, UserError } from '../errors.js';
import { FAULT_KINDS, type FaultKind, type FaultSpec } from '../spec/experiment.js';

/**
 * Fault injection on the simulation kernel. A fault arrives three ways:
 * - by rate: a Poisson process, `rate` faults per simulated second, from start() until `until`;
 * - at scheduled times: `at`, a list of absolute simulated times;
 * - by probability: the model asks `roll(kind, target)` at each opportunity (e.g. each KV read), which says yes with
 *   the spec's `probability`.
 * Rate- and time-driven faults are delivered to the listeners registered with on(); a roll() is answered to its
 * caller only (the caller is the one that acts on it), and counted.
 *
 * Each spec draws from its own named random streams, `fault:${index}:${kind}` for arrivals and
 * `fault:${index}:${kind}:roll` for rolls, so appending a spec changes no other spec's draws, and however often the
 * model rolls, the arrival times stay put.
 */

/**
 * link_down: `down` at the fault, `up` when it ends. worker_restart: `start` (the worker dies) and `end` (it is back).
 * connection_reset and health_503 are instantaneous and have no phase.
 */
export type FaultPhase = 'down' | 'up' | 'start' | 'end';

export interface Fault {
  kind: FaultKind;
  /** Simulated time, seconds (always sim.now when delivered). */
  time: number;
  target?: string;
  phase?: FaultPhase;
  /** Index of the spec it came from. */
  spec: number;
}

export type FaultListener = (fault: Fault) => void;

export interface FaultInjectorOptions {
  /** No rate-driven arrival after this simulated time. Required (finite) when any spec has a rate > 0. */
  until?: number;
}

interface SpecState {
  readonly index: number;
  readonly kind: FaultKind;
  readonly target: string | undefined;
  readonly rate: number;
  readonly probability: number;
  readonly at: readonly number[];
  /** Seconds a link_down / worker_restart lasts; 0 for instantaneous kinds. */
  readonly lengthS: number;
  readonly arrivals: RandomStream;
  readonly rolls: RandomStream;
}

/** An outage in progress on one (kind, target): when it ends and the event that ends it. */
interface Outage {
  end: number;
  handle: EventHandle;
  spec: number;
}

export class FaultInjector {
  private readonly specs: SpecState[];
  private until: number;
  private readonly listeners = new Map<FaultKind, FaultListener[]>();
  private readonly injected: Record<FaultKind, number>;
  private readonly outages = new Map<string, Outage>();
  private started = false;

  constructor(
    private readonly sim: Simulator,
    specs: readonly FaultSpec[],
    options: FaultInjectorOptions = {},
  ) {
    this.until = options.until ?? Infinity;
    if (options.until !== undefined && !(options.until >= 0 && options.until < Infinity)) {
      throw new UserError(`fault injection: until must be a finite number >= 0, got ${options.until}`);
    }
    this.specs = specs.map((spec, index) => this.validate(spec, index));
    const poisson = this.specs.find((s) => s.rate > 0);
    if (poisson !== undefined && this.until === Infinity) {
      // A bug in the caller, not in the experiment file: whoever builds the injector knows when the run ends.
      throw new InvariantError(
        `fault spec ${poisson.index} (${poisson.kind}) has a rate, so FaultInjector needs options.until (the end of injection)`,
      );
    }
    this.injected = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  }

  /** Calls `listener` for every delivered fault of this kind, in registration order. Returns an unsubscribe. */
  on(kind: FaultKind, listener: FaultListener): () => void {
    let list = this.listeners.get(kind);
    if (list === undefined) this.listeners.set(kind, (list = []));
    list.push(listener);
    return () => {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /**
   * Schedules the time- and rate-driven faults, from now on. Call once, after subscribing. A scheduled time before
   * now is a UserError.
   */
  start(): void {
    if (this.started) throw new InvariantError('FaultInjector.start() called twice');
    this.started = true;
    const now = this.sim.now;
    for (const s of this.specs) {
      s.at.forEach((t, i) => {
        if (t < now) throw this.specError(s.index, s.kind, `at[${i}]`, `${t} s is before the start of injection (${now} s)`);
      });
    }
    for (const s of this.specs) {
      // Unordered lists are fine: the kernel runs them in time order (equal times in list order).
      for (const t of s.at) this.sim.at(t, this.arrive, s);
      if (s.rate > 0) this.scheduleNextArrival(s);
    }
  }

  /**
   * A probability-driven fault: true with the probability of each spec of this kind that has one and whose target
   * is unset or equals `target` (with several such specs, true if any says yes; every one of them is rolled, so
   * that each spec's stream advances the same way whatever the others do). False, with no draw, if none applies.
   */
  roll(kind: FaultKind, target?: string): boolean {
    let hit = false;
    for (const s of this.specs) {
      if (s.kind !== kind || s.probability <= 0 || (s.target !== undefined && s.target !== target)) continue;
      if (s.rolls.next() < s.probability) hit = true;
    }
    if (hit) this.injected[kind]++;
    return hit;
  }

  /**
   * Faults injected so far per kind, every kind present: delivered instantaneous faults, outages begun (for
   * link_down and worker_restart; an arrival during an outage of the same target extends it and is not counted), and
   * rolls that said yes.
   */
  counts(): Record<FaultKind, number> {
    return { ...this.injected };
  }

  /** Whether an outage (link_down, worker_restart) of this target is in progress now. */
  isDown(kind: 'link_down' | 'worker_restart', target: string): boolean {
    return this.outages.has(outageKey(kind, target));
  }

  // Handlers are arrow properties so the kernel can call them with the spec as argument, without a closure per event.

  private readonly arrive = (s: SpecState): void => {
    const now = this.sim.now;
    if (s.kind === 'link_down' || s.kind === 'worker_restart') {
      const target = s.target!; // validated: required for these kinds
      const key = outageKey(s.kind, target);
      const end = now + s.lengthS;
      const outage = this.outages.get(key);
      if (outage !== undefined) {
        // Already down: the outage lasts until the later of the two ends; listeners hear nothing new.
        if (end > outage.end) {
          this.sim.cancel(outage.handle);
          outage.end = end;
          outage.spec = s.index;
          outage.handle = this.sim.at(end, this.recover, key);
        }
        return;
      }
      this.outages.set(key, { end, spec: s.index, handle: this.sim.at(end, this.recover, key) });
      this.injected[s.kind]++;
      this.deliver({ kind: s.kind, time: now, target, phase: s.kind === 'link_down' ? 'down' : 'start', spec: s.index });
      return;
    }
    this.injected[s.kind]++;
    const fault: Fault = { kind: s.kind, time: now, spec: s.index };
    if (s.target !== undefined) fault.target = s.target;
    this.deliver(fault);
  };

  private readonly poissonArrival = (s: SpecState): void => {
    this.arrive(s);
    this.scheduleNextArrival(s);
  };

  private readonly recover = (key: string): void => {
    const outage = this.outages.get(key);
    if (outage === undefined) throw new InvariantError(`fault injector: recovery of ${key} with no outage in progress`);
    this.outages.delete(key);
    const sep = key.indexOf('\u0000');
    const kind = key.slice(0, sep) as 'link_down' | 'worker_restart';
    const target = key.slice(sep + 1);
    this.deliver({ kind, time: this.sim.now, target, phase: kind === 'link_down' ? 'up' : 'end', spec: outage.spec });
  };

  /**
   * No rate-driven fault arrives after now (the workload is done: faults with nothing to hit would keep the run going
   * until `until`). Outages already under way still recover.
   */
  stopArrivals(): void {
    this.until = Math.min(this.until, this.sim.now);
  }

  private scheduleNextArrival(s: SpecState): void {
    const t = this.sim.now + s.arrivals.exponential(s.rate);
    if (t <= this.until) this.sim.at(t, this.poissonArrival, s);
  }

  private deliver(fault: Fault): void {
    const list = this.listeners.get(fault.kind);
    if (list === undefined) return;
    for (const listener of list.slice()) listener(fault);
  }

  private validate(spec: FaultSpec, index: number): SpecState {
    const raw = spec as unknown as Record<string, unknown>;
    if (raw === null || typeof raw !== 'object') throw new UserError(`fault spec ${index}: must be an object`);
    const kind = raw['kind'];
    if (typeof kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(kind)) {
      throw new UserError(`fault spec ${index}: kind must be one of ${FAULT_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
    }
    const k = kind as FaultKind;
    const fail = (field: string, problem: string): UserError => this.specError(index, k, field, problem);
    const number = (field: string, max = Infinity): number | undefined => {
      const v = raw[field];
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !(v >= 0 && v <= max && Number.isFinite(v))) {
        throw fail(field, `must be a finite number >= 0${max < Infinity ? ` and <= ${max}` : ''}, got ${String(v)}`);
      }
      return v;
    };

    const rate = number('rate');
    const probability = number('probability', 1);
    let at: number[] = [];
    if (raw['at'] !== undefined) {
      if (!Array.isArray(raw['at'])) throw fail('at', 'must be a list of times in seconds');
      at = (raw['at'] as unknown[]).map((t, i) => {
        if (typeof t !== 'number' || !(t >= 0 && Number.isFinite(t))) {
          throw fail(`at[${i}]`, `must be a finite time >= 0 s, got ${String(t)}`);
        }
        return t;
      });
    }
    if (rate === undefined && probability === undefined && raw['at'] === undefined) {
      throw new UserError(`fault spec ${index} (${k}): give at least one of rate, probability or at`);
    }

    const target = raw['target'];
    if (target !== undefined && (typeof target !== 'string' || target === '')) {
      throw fail('target', `must be a non-empty string, got ${JSON.stringify(target)}`);
    }
    let lengthS = 0;
    if (k === 'link_down' || k === 'worker_restart') {
      const field = k === 'link_down' ? 'durationS' : 'downtimeS';
      const length = number(field);
      if (length === undefined) throw fail(field, 'is required');
      lengthS = length;
      if (target === undefined) throw fail('target', `is required for ${k}`);
      if (probability !== undefined) throw fail('probability', `is not supported for ${k}: use rate or at`);
    }
    return {
      index,
      kind: k,
      target: target as string | undefined,
      rate: rate ?? 0,
      probability: probability ?? 0,
      at,
      lengthS,
      arrivals: this.sim.rng(`fault:${index}:${k}`),
      rolls: this.sim.rng(`fault:${index}:${k}:roll`),
    };
  }

  private specError(index: number, kind: string, field: string, problem: string): UserError {
    return new UserError(`fault spec ${index} (${kind}): ${field} ${problem}`);
  }
}

function outageKey(kind: 'link_down' | 'worker_restart', target: string): string {
  return `${kind}\u0000${target}`;
}
