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
 * A queue entry's id is slot * CODES + code. Code 0: a slot of the slot table, which holds the event's callback and
 * argument. Codes 1..CODES-1: a callback registered with register(), run without an argument, and a slot of the ring
 * (see insertRegistered): the entry alone says what to run.
 */
const CODE_BITS = 7;
const CODES = 1 << CODE_BITS;
/** Handles of ring slots start here (a slot-table handle is below 2^52). */
const RING_HANDLE = 2 ** 52;
/** spent when the running event is a ring event (nothing to hand on but its queue entry). */
const SPENT_RING = -2;

/**
 * A callback registered with Simulator.register(), scheduled by this number instead of the function. Without an
 * argument, the first 127 registered callbacks of a simulator travel inside the queue entry (see insertRegistered).
 */
export type HandlerId<T = undefined> = number & { readonly handlerArg?: T };

/**
 * The discrete-event kernel: a clock in seconds, a queue of callbacks, lazy cancellation and named random streams.
 * It knows nothing about LLMs. Events at equal times run in the order they were scheduled.
 *
 * Two kinds of event share one queue and one order: a function (with or without an argument) keeps its callback,
 * argument and generation in a slot of the slot table, read when it runs; a registered callback scheduled without an
 * argument (register(), the first 127 of a simulator) is named by a code in its queue entry and keeps only two bits
 * and a generation in the ring. With 100k events pending the slot table's line is a cache miss when its event runs;
 * the ring's bits stay in cache. hold at 100k pending: 1.3x as fast with a registered callback, measured
 * (docs/performance.md).
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
  /** Registered callbacks by HandlerId (index 0 unused). */
  private readonly handlers: Handler<any>[] = [noHandler];
  /**
   * The ring, for registered callbacks without an argument: per 32 slots two words of bits, busy (its entry is in
   * the queue) then live (neither run nor cancelled); a generation per slot; its size (a power of 2), slots busy,
   * and where the search for the next free slot starts.
   */
  private ringBits = new Int32Array(2);
  private ringGen = new Int32Array(32);
  private ringCap = 32;
  private ringBusy = 0;
  private cursor = 0;
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
    // The slot table is in use while a slot is not on the free list (registered events never take one).
    this.queue.warmOnMove(this.slots, STRIDE, CODE_BITS, () => this.slots.length !== this.free.length * STRIDE);
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

  /**
   * Registers a callback for scheduling by number: `const tick = sim.register(fn)`, then `sim.schedule(d, tick)`.
   * Scheduled without an argument, one of the first 127 registered callbacks runs without reading the slot table
   * (see insertRegistered); with an argument, or past the first 127, it runs as a function passed to schedule() does.
   * Ids are this simulator's: another simulator's id names another callback here, or none.
   */
  register<T = undefined>(fn: Handler<T>): HandlerId<T> {
    if (typeof fn !== 'function') throw new SimulationError(`register() takes a function, got ${typeof fn}`);
    this.handlers.push(fn as Handler<any>);
    return (this.handlers.length - 1) as HandlerId<T>;
  }

  /** Runs `fn(arg)` after `delay` seconds (finite, >= 0). `fn` is a function or a HandlerId from register(). */
  schedule<T = undefined>(delay: number, fn: Handler<T> | HandlerId<T>, arg?: T): EventHandle {
    if (!(delay >= 0 && delay < Infinity)) {
      throw new SimulationError(`cannot schedule after a delay of ${delay} s: the delay must be a finite number >= 0`);
    }
    this.queue.staged[0] = this.clock + delay;
    return this.handleOf(typeof fn === 'number' ? this.insertRegistered(fn, arg) : this.insert(fn, arg));
  }

  /** Runs `fn(arg)` at absolute time `time` (seconds), which must not be in the past. */
  at<T = undefined>(time: number, fn: Handler<T> | HandlerId<T>, arg?: T): EventHandle {
    if (!(time >= this.clock && time < Infinity)) {
      throw new SimulationError(
        Number.isNaN(time)
          ? 'cannot schedule at time NaN'
          : `cannot schedule at t=${time} s: it is in the past (now is t=${this.clock} s) or not finite`,
      );
    }
    this.queue.staged[0] = time;
    return this.handleOf(typeof fn === 'number' ? this.insertRegistered(fn, arg) : this.insert(fn, arg));
  }

  /** Cancels a scheduled event; false if it already ran or was cancelled. Its queue entry is dropped lazily. */
  cancel(handle: EventHandle): boolean {
    if (handle >= RING_HANDLE) {
      const slot = this.ringSlotOf(handle);
      if (slot < 0) return false;
      this.ringBits[((slot >> 5) << 1) + 1]! &= ~(1 << (slot & 31)); // not live; busy until its entry leaves the queue
    } else {
      const slot = this.slotOf(handle);
      if (slot < 0) return false;
      this.vacate(slot);
    }
    this.live--;
    return true;
  }

  /** Whether the event is still to run. */
  isPending(handle: EventHandle): boolean {
    return (handle >= RING_HANDLE ? this.ringSlotOf(handle) : this.slotOf(handle)) >= 0;
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
      const id = queue.peekStaged(); // -1 when empty
      const time = staged[0]!;
      if (id < 0 || time > until) break;
      const slot = id >> CODE_BITS;
      const code = id & (CODES - 1);
      let fn: Handler<unknown>;
      let arg: unknown;
      if (code !== 0) {
        // A ring event: its state is two bits, and its callback is named by the entry.
        const bits = this.ringBits;
        const w = (slot >> 5) << 1;
        const bit = 1 << (slot & 31);
        const liveWord = bits[w + 1]!;
        bits[w] = bits[w]! & ~bit; // its entry leaves the queue next (or is taken over by the first schedule)
        this.ringBusy--;
        if ((liveWord & bit) === 0) {
          queue.pop(); // cancelled
          continue;
        }
        bits[w + 1] = liveWord & ~bit; // its handle stops matching before its handler runs
        fn = this.handlers[code]!;
        arg = undefined;
        this.spent = SPENT_RING;
      } else {
        const at = slot * STRIDE;
        const f = slots[at + FN] as Handler<unknown> | null;
        if (f === null) {
          queue.pop(); // cancelled
          this.release(slot);
          continue;
        }
        // The event's handle stops matching before its handler runs; the slot stays the event's until the handler
        // returns (or schedules, and hands it on).
        slots[at + GEN] = ((slots[at + GEN] as number) + 1) & (GEN_LIMIT - 1); // GEN_LIMIT is a power of 2
        fn = f;
        arg = slots[at + ARG];
        this.spent = slot;
      }
      this.live--;
      this.clock = time;
      count++;
      fn(arg);
      if (this.spent !== -1) this.dropSpentTop();
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
      const id = queue.pop();
      const slot = id >> CODE_BITS;
      const code = id & (CODES - 1);
      let fn: Handler<unknown> | null;
      let arg: unknown = undefined;
      if (code !== 0) {
        fn = this.ringLive(slot) ? this.handlers[code]! : null;
        this.ringLeave(slot);
      } else {
        fn = this.slots[slot * STRIDE + FN] as Handler<unknown> | null;
        arg = this.slots[slot * STRIDE + ARG];
        this.release(slot);
      }
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
    if (slot !== -1) {
      this.spent = -1;
      this.queue.pop();
      if (slot >= 0) this.giveBack(slot);
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

  /**
   * Queues `fn(arg)` at the time written to queue.staged[0] (not an argument: see EventQueue.staged); returns its
   * slot (handleOf makes the handle).
   */
  private insert(fn: Handler<any>, arg: unknown): number {
    const slots = this.slots;
    let slot = this.spent;
    if (slot >= 0) {
      // The running event's handler schedules: the new event takes the running one's queue entry and slot.
      this.spent = -1;
      this.queue.replaceTopStaged(this.seq++, slot * CODES);
    } else {
      slot = this.free.length > 0 ? this.free.pop()! : this.newSlot();
      if (this.spent === SPENT_RING) {
        this.spent = -1;
        this.queue.replaceTopStaged(this.seq++, slot * CODES);
      } else {
        this.queue.pushStaged(this.seq++, slot * CODES);
      }
    }
    const at = slot * STRIDE;
    slots[at + FN] = fn;
    slots[at + ARG] = arg;
    this.live++;
    return slot;
  }

  /**
   * insert() for a HandlerId. Without an argument, and among the first CODES - 1 registered, the callback travels in
   * the queue entry and the event takes a slot of the ring instead of the slot table: ring slots are handed out in
   * order (the next one not busy), so the one line written per event (its generation) is written in sequence, and
   * the run reads only the ring's bits (64 KB at 100k pending: they stay in cache). With 100k events pending, the
   * slot table's line read when an event runs is a cache miss (its events run in time order, not in the order they
   * were scheduled), the largest cost left at 100k (docs/performance.md). One function on purpose: split in two so
   * that V8 inlines it into the handler (it is over V8's 460 bytes of bytecode for one inlining), it measured 0.89x
   * at 1k pending and no faster at 100k. Returns -1 - the ring slot, or insert()'s slot (handleOf makes the handle).
   */
  private insertRegistered(h: number, arg: unknown): number {
    if (!((h | 0) === h && h > 0 && h < CODES && h < this.handlers.length && arg === undefined)) {
      return this.insert(this.handlerOf(h), arg);
    }
    if (this.ringBusy * 2 >= this.ringCap) this.growRing();
    const bits = this.ringBits;
    const c = this.cursor;
    const free = ~bits[(c >> 5) << 1]! & (-1 << (c & 31));
    const slot = free !== 0 ? (c & ~31) + 31 - Math.clz32(free & -free) : this.nextFree(c >> 5);
    this.cursor = (slot + 1) & (this.ringCap - 1);
    const w = (slot >> 5) << 1;
    const bit = 1 << (slot & 31);
    bits[w] = bits[w]! | bit;
    bits[w + 1] = bits[w + 1]! | bit;
    this.ringBusy++;
    const gen = (this.ringGen[slot]! + 1) & (GEN_LIMIT - 1);
    this.ringGen[slot] = gen;
    const spent = this.spent;
    if (spent !== -1) {
      // The running event's handler schedules: the new event takes the running one's queue entry.
      this.spent = -1;
      if (spent >= 0) this.giveBack(spent); // a slot-table event's slot, not handed on
      this.queue.replaceTopStaged(this.seq++, slot * CODES + h);
    } else {
      this.queue.pushStaged(this.seq++, slot * CODES + h);
    }
    this.live++;
    return -1 - slot;
  }

  /**
   * The handle of the event just queued, from what insert()/insertRegistered() return: a slot-table slot (>= 0) or
   * -1 - a ring slot. They return that small integer rather than the handle (a double beyond V8's small integers,
   * boxed on the heap when a call is not inlined); this is inlined into schedule()/at(), and when the caller drops
   * the handle, as most do, V8 drops the arithmetic and the allocation with it (returning the handle from
   * insertRegistered had cost hold one heap allocation per event).
   */
  private handleOf(ref: number): EventHandle {
    return ref >= 0
      ? (this.slots[ref * STRIDE + GEN] as number) * SLOT_LIMIT + ref
      : RING_HANDLE + this.ringGen[-1 - ref]! * SLOT_LIMIT + (-1 - ref);
  }

  /** The callback registered as h, or a SimulationError. */
  private handlerOf(h: number): Handler<any> {
    if (!((h | 0) === h && h > 0 && h < this.handlers.length)) {
      throw new SimulationError(`${h} is not a handler registered with this simulator's register()`);
    }
    return this.handlers[h]!;
  }

  /** The first ring slot not busy in the words after word w, going round (out of line: the insert stays small). */
  private nextFree(w: number): number {
    const words = this.ringCap >> 5;
    let free = 0;
    do {
      w = w + 1 === words ? 0 : w + 1;
      free = ~this.ringBits[w << 1]!;
    } while (free === 0);
    return (w << 5) + 31 - Math.clz32(free & -free); // the lowest free bit
  }

  /** Doubles the ring (when half its slots are busy, so that the search for a free one stays short). */
  private growRing(): void {
    const cap = this.ringCap * 2;
    if (cap > SLOT_LIMIT) throw new SimulationError(`more than ${SLOT_LIMIT / 2} registered events pending at once`);
    const bits = new Int32Array(cap / 16);
    bits.set(this.ringBits);
    const gen = new Int32Array(cap);
    gen.set(this.ringGen);
    this.ringBits = bits;
    this.ringGen = gen;
    this.cursor = this.ringCap; // the new half is all free
    this.ringCap = cap;
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
    const at = slot * STRIDE + GEN;
    this.slots[at] = ((this.slots[at] as number) + 1) & (GEN_LIMIT - 1);
    this.giveBack(slot);
  }

  /** Frees the running event's slot (its generation was bumped when its event started). */
  private giveBack(slot: number): void {
    this.vacate(slot);
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

  private ringSlotOf(handle: EventHandle): number {
    if (!Number.isInteger(handle)) return -1;
    const slot = (handle - RING_HANDLE) % SLOT_LIMIT;
    const gen = (handle - RING_HANDLE - slot) / SLOT_LIMIT;
    return slot < this.ringCap && this.ringGen[slot] === gen && this.ringLive(slot) ? slot : -1;
  }

  /** Whether a ring slot's event is still to run (its live bit). */
  private ringLive(slot: number): boolean {
    return (this.ringBits[((slot >> 5) << 1) + 1]! & (1 << (slot & 31))) !== 0;
  }

  /** A ring slot's entry has left the queue: clears both its bits (run() does the same inline, on the hot path). */
  private ringLeave(slot: number): void {
    const w = (slot >> 5) << 1;
    const bit = 1 << (slot & 31);
    this.ringBits[w]! &= ~bit;
    this.ringBits[w + 1]! &= ~bit;
    this.ringBusy--;
  }

  /** Pops cancelled entries off the front of the queue (and the running event's, if still there). */
  private dropCancelledHead(): void {
    this.dropSpentTop();
    const queue = this.queue;
    for (;;) {
      const id = queue.peekId();
      if (id < 0) return;
      const slot = id >> CODE_BITS;
      if ((id & (CODES - 1)) !== 0) {
        if (this.ringLive(slot)) return;
        queue.pop();
        this.ringLeave(slot);
      } else {
        if (this.slots[slot * STRIDE + FN] !== null) return;
        queue.pop();
        this.release(slot);
      }
    }
  }
}

/** HandlerId 0 is never handed out (code 0 means "look in the slot table"). */
function noHandler(): void {
  throw new InvariantError('handler 0 ran');
}
