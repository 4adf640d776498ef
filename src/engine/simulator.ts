import { InvariantError } from '../errors.js';
import { EventQueue } from './event-queue.js';
import { RandomStream, RandomStreams } from './random.js';

/** A callback run at its scheduled time. `arg` lets hot paths reuse one handler function instead of allocating closures. */
export type Handler<T = undefined> = (arg: T) => void;

/**
 * An opaque number naming one scheduled event, for cancel(). It encodes a slot and that slot's generation, so a handle
 * kept after its event ran (or was cancelled) never cancels whatever later reuses the slot. Generations wrap after
 * 2^28 reuses of one slot; holding a handle across that many reuses is the only way to alias one.
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
/** A slot's fields in the slot table: its callback, argument and generation, side by side (one cache line). */
const FN = 0;
const ARG = 1;
const GEN = 2;
const STRIDE = 3;

/**
 * The discrete-event kernel: a clock in seconds, a queue of callbacks, lazy cancellation and named random streams.
 * It knows nothing about LLMs. Events at equal times run in the order they were scheduled.
 */
export class Simulator {
  private clock = 0;
  private seq = 0;
  private live = 0;
  private executed = 0;
  private stopped = false;
  private readonly queue: EventQueue;
  /**
   * Slots hold each pending event's callback (null once cancelled), argument and generation, STRIDE entries per slot
   * in one array: the running event's three reads then cost one cache miss, not three. The heap carries slot ids.
   */
  private readonly slots: unknown[] = [];
  private readonly free: number[] = [];
  private readonly streams: RandomStreams;
  /** Debug mode: runs after every event (see checkEveryEvent). Unset in normal runs, whose loop never looks at it. */
  private afterEvent: ((now: number) => void) | undefined = undefined;
  /**
   * The running event's slot (-1: none) while its queue entry is still at the top: the normal loop removes the entry
   * after the handler, unless the handler schedules an event first, which then takes the entry's place and its slot
   * (EventQueue.replaceTop: one sift instead of two, and no trip through the free list).
   */
  private spent = -1;

  constructor(
    /** The master seed every random stream derives from. */
    readonly seed: string | number = 0,
    initialCapacity = 1024,
  ) {
    this.queue = new EventQueue(initialCapacity);
    this.queue.warmOnMove(this.slots, STRIDE);
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
    this.queue.staged[0] = this.clock + delay;
    return this.insert(fn, arg);
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
    this.queue.staged[0] = time;
    return this.insert(fn, arg);
  }

  /** Cancels a scheduled event; false if it already ran or was cancelled. Its queue entry is dropped lazily. */
  cancel(handle: EventHandle): boolean {
    const slot = this.slotOf(handle);
    if (slot < 0) return false;
    this.vacate(slot);
    this.live--;
    return true;
  }

  /** Whether the event is still to run. */
  isPending(handle: EventHandle): boolean {
    return this.slotOf(handle) >= 0;
  }

  /** Time of the next event still to run, or Infinity. */
  peek(): number {
    this.dropCancelledHead();
    return this.queue.peekTime();
  }

  /**
   * Debug mode: from now on, run() checks before each event that the clock does not go back, and calls `check(now)`
   * after it (invariant checks in tests). undefined turns it off. The normal loop stays free of both: run() picks
   * the checked loop once, before it starts.
   */
  checkEveryEvent(check: ((now: number) => void) | undefined): void {
    this.afterEvent = check;
  }

  /** Makes the current run() return after the event that called it. */
  stop(): void {
    this.stopped = true;
  }

  /** Runs one event; false when nothing is pending. */
  step(): boolean {
    return this.run({ maxEvents: 1 }) === 1;
  }

  /**
   * Runs events in time order until nothing is pending, until `until` (the clock is then set to `until`), after
   * `maxEvents` events, or until a handler calls stop(). Returns the number of events run.
   */
  run(options: RunOptions = {}): number {
    const until = options.until ?? Infinity;
    const maxEvents = options.maxEvents ?? Infinity;
    if (Number.isNaN(until) || until < this.clock) {
      throw new SimulationError(`cannot run until t=${until} s: it is before now (t=${this.clock} s)`);
    }
    if (!(maxEvents >= 0)) throw new SimulationError(`maxEvents must be a number >= 0, got ${maxEvents}`);
    this.dropSpentTop(); // run() from a handler, or after a handler threw
    if (this.afterEvent !== undefined) return this.runChecked(until, maxEvents, this.afterEvent);
    const queue = this.queue;
    const slots = this.slots;
    const staged = queue.staged;
    let count = 0;
    this.stopped = false;
    while (count < maxEvents) {
      const slot = queue.peekStaged(); // -1 when empty
      const time = staged[0]!;
      if (slot < 0 || time > until) break;
      const at = slot * STRIDE;
      const fn = slots[at + FN] as Handler<unknown> | null;
      if (fn === null) {
        queue.pop(); // cancelled
        this.release(slot);
        continue;
      }
      // The event's handle stops matching before its handler runs; the slot stays the event's until the handler
      // returns (or schedules, and hands it on).
      slots[at + GEN] = ((slots[at + GEN] as number) + 1) & (GEN_LIMIT - 1); // GEN_LIMIT is a power of 2
      this.live--;
      this.clock = time;
      count++;
      this.spent = slot;
      fn(slots[at + ARG]);
      if (this.spent >= 0) this.dropSpentTop();
      if (this.stopped) break;
    }
    return this.endRun(count, until, maxEvents);
  }

  /** run()'s loop in debug mode: the same steps, plus the clock check and the caller's check after each event. */
  private runChecked(until: number, maxEvents: number, check: (now: number) => void): number {
    const queue = this.queue;
    let count = 0;
    this.stopped = false;
    while (count < maxEvents) {
      const time = queue.peekTime();
      if (time > until || time === Infinity) break;
      const slot = queue.pop();
      const fn = this.slots[slot * STRIDE + FN] as Handler<unknown> | null;
      const arg = this.slots[slot * STRIDE + ARG];
      this.release(slot);
      if (fn === null) continue;
      if (!(time >= this.clock)) {
        throw new InvariantError(`the clock never goes back: the next event is at t=${time} s but the clock reads t=${this.clock} s`);
      }
      this.live--;
      this.clock = time;
      count++;
      fn(arg);
      check(time);
      if (this.stopped) break;
    }
    return this.endRun(count, until, maxEvents);
  }

  /** Removes the running event's entry if its handler left it there (peek() or a nested run() from a handler). */
  private dropSpentTop(): void {
    const slot = this.spent;
    if (slot >= 0) {
      this.spent = -1;
      this.queue.pop();
      this.vacate(slot);
      this.free.push(slot); // its generation was bumped when its event started
    }
  }

  /** After a run's loop: counts its events and, when it ran out of events before `until`, moves the clock there. */
  private endRun(count: number, until: number, maxEvents: number): number {
    this.executed += count;
    if (until !== Infinity && count < maxEvents && !this.stopped) {
      this.dropCancelledHead();
      if (this.queue.peekTime() > until) this.clock = until;
    }
    return count;
  }

  /** Queues `fn(arg)` at the time written to queue.staged[0] (not an argument: see EventQueue.staged). */
  private insert(fn: Handler<any>, arg: unknown): EventHandle {
    const slots = this.slots;
    let slot = this.spent;
    if (slot >= 0) {
      // The running event's handler schedules: the new event takes the running one's queue entry and slot.
      this.spent = -1;
      this.queue.replaceTopStaged(this.seq++, slot);
    } else {
      slot = this.free.length > 0 ? this.free.pop()! : this.newSlot();
      this.queue.pushStaged(this.seq++, slot);
    }
    const at = slot * STRIDE;
    slots[at + FN] = fn;
    slots[at + ARG] = arg;
    this.live++;
    return (slots[at + GEN] as number) * SLOT_LIMIT + slot;
  }

  /** A slot never used before (out of line: insert stays small enough for V8 to inline into callers). */
  private newSlot(): number {
    const slot = this.slots.length / STRIDE;
    if (slot >= SLOT_LIMIT) throw new SimulationError(`more than ${SLOT_LIMIT} events pending at once`);
    this.slots.push(null, undefined, 0);
    return slot;
  }

  /** Frees a slot whose queue entry has been popped; bumps its generation so that old handles no longer match. */
  private release(slot: number): void {
    this.vacate(slot);
    const at = slot * STRIDE + GEN;
    this.slots[at] = ((this.slots[at] as number) + 1) & (GEN_LIMIT - 1);
    this.free.push(slot);
  }

  /** Drops a slot's callback (null: cancelled or free) and argument (so that it can be collected). */
  private vacate(slot: number): void {
    this.slots[slot * STRIDE + FN] = null;
    this.slots[slot * STRIDE + ARG] = undefined;
  }

  private slotOf(handle: EventHandle): number {
    if (!Number.isInteger(handle) || handle < 0) return -1;
    const slot = handle % SLOT_LIMIT;
    const gen = (handle - slot) / SLOT_LIMIT;
    const at = slot * STRIDE;
    return at < this.slots.length && this.slots[at + GEN] === gen && this.slots[at + FN] !== null ? slot : -1;
  }

  private dropCancelledHead(): void {
    this.dropSpentTop();
    const queue = this.queue;
    while (queue.size > 0 && this.slots[queue.peekId() * STRIDE + FN] === null) this.release(queue.pop());
  }
}
