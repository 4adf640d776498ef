import { InvariantError } from '../errors.js';
import { EventQueue } from './event-queue.js';
import { RandomStream, RandomStreams } from './random.js';

/** A callback run at its scheduled time. `arg` lets hot paths reuse one handler function instead of allocating closures. */
export type Handler<T = undefined> = (arg: T) => void;

/**
 * An opaque number >= 0 naming one scheduled event, for cancel(). It encodes a slot and that slot's generation, so a
 * handle kept after its event ran (or was cancelled) never cancels whatever later reuses the slot. Generations wrap
 * after 2^28 reuses of one slot; holding a handle across that many reuses is the only way to alias one.
 */
export type EventHandle = number;

export interface RunOptions {
  /** Run events with time <= until, then set the clock to until. */
  until?: number;
  /** Run at most this many events (cancelled ones do not count). */
  maxEvents?: number;
}

export class SimulationError extends Error {
  override readonly name = 'SimulationError';
}

const SLOT_LIMIT = 2 ** 24; // at most ~16.7M events pending at once
const GEN_LIMIT = 2 ** 28;
/** The queue drops its cancelled entries at once when they outnumber the live ones and are more than this many. */
const COMPACT_ABOVE = 64;

/**
 * The discrete-event kernel: a clock in seconds, a queue of callbacks, lazy cancellation and named random streams.
 * It knows nothing about LLMs. Events run in (time, seq) order, seq counting schedules: events at equal times run in
 * the order they were scheduled.
 *
 * A pending event is a queue entry (time, seq, slot) and a slot holding its callback, argument and generation.
 * cancel() empties the slot and leaves the entry, skipped when it comes out; when cancelled entries outnumber the
 * live ones the queue is compacted.
 */
export class Simulator {
  private clock = 0;
  private seq = 0;
  private live = 0;
  /** Cancelled entries still in the queue. */
  private dead = 0;
  private executed = 0;
  private readonly queue: EventQueue;
  /** By slot: the callback (null: free or cancelled), its argument and the slot's generation. Free slots are listed. */
  private readonly fns: (Handler<any> | null)[] = [];
  private readonly args: unknown[] = [];
  private readonly gens: number[] = [];
  private readonly free: number[] = [];
  private readonly streams: RandomStreams;
  /** Debug mode: runs after every event (see checkEveryEvent). */
  private afterEvent: ((now: number) => void) | undefined = undefined;

  constructor(
    /** The master seed every random stream derives from. */
    readonly seed: string | number = 0,
    initialCapacity = 1024,
  ) {
    this.queue = new EventQueue(initialCapacity);
    this.streams = new RandomStreams(seed);
  }

  /** The current simulated time, in seconds. */
  get now(): number {
    return this.clock;
  }

  /** Events scheduled and neither run nor cancelled. */
  get pending(): number {
    return this.live;
  }

  /** Events run so far. */
  get eventsRun(): number {
    return this.executed;
  }

  /** An independent random stream for this name, derived from the master seed; the same name gives the same stream. */
  rng(name: string): RandomStream {
    return this.streams.get(name);
  }

  /** Runs `fn(arg)` after `delay` seconds (finite, >= 0). */
  schedule<T = undefined>(delay: number, fn: Handler<T>, arg?: T): EventHandle {
    if (!(delay >= 0 && delay < Infinity)) {
      throw new SimulationError(`cannot schedule after a delay of ${delay} s: the delay must be a finite number >= 0`);
    }
    return this.insert(this.clock + delay, fn, arg);
  }

  /** Runs `fn(arg)` at absolute time `time` (seconds), which must not be in the past. */
  at<T = undefined>(time: number, fn: Handler<T>, arg?: T): EventHandle {
    if (!(time >= this.clock && time < Infinity)) {
      throw new SimulationError(
        Number.isNaN(time)
          ? 'cannot schedule at time NaN'
          : `cannot schedule at t=${time} s: it is in the past (now is t=${this.clock} s) or not finite`,
      );
    }
    return this.insert(time, fn, arg);
  }

  /** Cancels a scheduled event; false if it already ran or was cancelled. Its queue entry is dropped lazily. */
  cancel(handle: EventHandle): boolean {
    const slot = handle % SLOT_LIMIT;
    if (!(slot >= 0 && slot < this.fns.length) || this.gens[slot] !== (handle - slot) / SLOT_LIMIT || this.fns[slot] === null) return false;
    this.fns[slot] = null;
    this.args[slot] = undefined;
    this.live--;
    if (++this.dead > this.live && this.dead > COMPACT_ABOVE) {
      this.queue.compact((s) => {
        if (this.fns[s] !== null) return true;
        this.release(s);
        return false;
      });
      this.dead = 0;
    }
    return true;
  }

  /**
   * Debug mode: from now on, run() checks before each event that the clock does not go back, and calls `check(now)`
   * after it (invariant checks in tests). undefined turns it off.
   */
  checkEveryEvent(check: ((now: number) => void) | undefined): void {
    this.afterEvent = check;
  }

  /** Runs one event; false when nothing is pending. */
  step(): boolean {
    return this.run({ maxEvents: 1 }) === 1;
  }

  /**
   * Runs events in (time, seq) order until nothing is pending, until `until` (the clock is then set to `until`) or
   * after `maxEvents` events. Returns the number of events run.
   */
  run(options: RunOptions = {}): number {
    const until = options.until ?? Infinity;
    const maxEvents = options.maxEvents ?? Infinity;
    if (Number.isNaN(until) || until < this.clock) {
      throw new SimulationError(`cannot run until t=${until} s: it is before now (t=${this.clock} s)`);
    }
    if (!(maxEvents >= 0)) throw new SimulationError(`maxEvents must be a number >= 0, got ${maxEvents}`);
    const queue = this.queue;
    const check = this.afterEvent;
    let count = 0;
    while (count < maxEvents) {
      const time = queue.peekTime(); // Infinity when empty
      if (time > until || queue.size === 0) break;
      const slot = queue.pop();
      const fn = this.fns[slot] as Handler<any> | null;
      const arg = this.args[slot];
      this.release(slot); // the event's handle stops matching before its handler runs
      if (fn === null) {
        this.dead--;
        continue;
      }
      if (check !== undefined && !(time >= this.clock)) {
        throw new InvariantError(`the clock never goes back: the next event is at t=${time} s but the clock reads t=${this.clock} s`);
      }
      this.live--;
      this.clock = time;
      count++;
      fn(arg);
      if (check !== undefined) check(time);
    }
    this.executed += count;
    if (count < maxEvents && until !== Infinity) this.clock = until; // ran out of events before until
    return count;
  }

  private insert(time: number, fn: Handler<any>, arg: unknown): EventHandle {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.fns.length;
      if (slot >= SLOT_LIMIT) throw new SimulationError(`more than ${SLOT_LIMIT} events pending at once`);
      this.gens.push(0);
    }
    this.fns[slot] = fn;
    this.args[slot] = arg;
    this.queue.push(time, this.seq++, slot);
    this.live++;
    return this.gens[slot]! * SLOT_LIMIT + slot;
  }

  /** Frees a slot whose entry has left the queue; bumps its generation so that old handles no longer match. */
  private release(slot: number): void {
    this.fns[slot] = null;
    this.args[slot] = undefined;
    this.gens[slot] = (this.gens[slot]! + 1) & (GEN_LIMIT - 1);
    this.free.push(slot);
  }
}
