import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Simulator, SimulationError, type HandlerId } from '../../src/engine/index.js';

describe('Simulator clock and ordering', () => {
  it('runs events in time order and advances now to each event time', () => {
    const sim = new Simulator();
    const seen: [string, number][] = [];
    sim.schedule(3, () => seen.push(['c', sim.now]));
    sim.schedule(1, () => seen.push(['a', sim.now]));
    sim.at(2, () => seen.push(['b', sim.now]));
    expect(sim.run()).toBe(3);
    expect(seen).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    expect(sim.now).toBe(3);
  });

  it('runs events at equal times in the order they were scheduled (FIFO), including ones scheduled while running', () => {
    const sim = new Simulator();
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) sim.at(1, (k: number) => seen.push(k), i);
    sim.at(1, () => sim.schedule(0, () => seen.push(99))); // added at t=1 during the run: goes after the others
    sim.at(1, () => seen.push(5));
    sim.run();
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 99]);
  });

  it('passes the scheduled argument to the handler', () => {
    const sim = new Simulator();
    let got: { id: number } | undefined;
    sim.schedule(0.5, (req: { id: number }) => (got = req), { id: 7 });
    sim.run();
    expect(got).toEqual({ id: 7 });
  });
});

describe('Simulator with many events pending (the queue in buckets)', () => {
  it('runs 20,000 events at 200 distinct times in time order, FIFO within a time, cancelled ones never', () => {
    // Times k/8 for k = (7i mod 200): 100 events share each time, scheduled in increasing i. Every third is cancelled.
    // Past 8,192 pending the queue keeps the far future in buckets; the order must not change.
    const sim = new Simulator(1);
    const ran: number[] = [];
    const handles: number[] = [];
    for (let i = 0; i < 20_000; i++) handles.push(sim.at(((7 * i) % 200) / 8, (n: number) => ran.push(n), i));
    for (let i = 0; i < 20_000; i += 3) sim.cancel(handles[i]!);
    expect(sim.run()).toBe(20_000 - Math.ceil(20_000 / 3));
    const expected = Array.from({ length: 20_000 }, (_, i) => i)
      .filter((i) => i % 3 !== 0)
      .sort((a, b) => ((7 * a) % 200) - ((7 * b) % 200) || a - b);
    expect(ran).toEqual(expected);
  });
});

describe('Simulator with registered callbacks (HandlerId)', () => {
  it('runs a registered callback by its id, with an argument when given one', () => {
    const sim = new Simulator();
    const seen: string[] = [];
    const tick = sim.register(() => seen.push(`tick@${sim.now}`));
    const named = sim.register((name: string) => seen.push(`${name}@${sim.now}`));
    sim.schedule(2, tick);
    sim.at(1, named, 'one');
    sim.schedule(3, () => seen.push(`fn@${sim.now}`));
    expect(sim.run()).toBe(3);
    expect(seen).toEqual(['one@1', 'tick@2', 'fn@3']);
  });

  it('keeps FIFO at equal times across registered callbacks, argument or not, and plain functions', () => {
    const sim = new Simulator();
    const seen: string[] = [];
    const a = sim.register(() => seen.push('a'));
    const b = sim.register((k: number) => seen.push(`b${k}`));
    sim.at(1, a);
    sim.at(1, () => seen.push('f'));
    sim.at(1, b, 1);
    sim.at(1, a);
    sim.at(1, () => sim.schedule(0, a)); // scheduled during the run, at the same time: after all of the above
    sim.at(1, b, 2);
    sim.run();
    expect(seen).toEqual(['a', 'f', 'b1', 'a', 'b2', 'a']);
  });

  it('runs callbacks registered past the 127 that travel in the queue entry, in order', () => {
    const sim = new Simulator();
    const seen: number[] = [];
    const ids: HandlerId[] = [];
    for (let k = 0; k < 130; k++) ids.push(sim.register(() => seen.push(k)));
    for (let k = 129; k >= 0; k--) sim.at(k === 0 ? 0.5 : 1, ids[k]!); // all at t=1 but k=0, scheduled 129 down to 1
    sim.run();
    expect(seen).toEqual([0, ...Array.from({ length: 129 }, (_, i) => 129 - i)]);
  });

  it('runs 20,000 registered events at 200 distinct times in time order, FIFO within a time, cancelled ones never', () => {
    // Event i runs callback i % 100 at time ((7 * floor(i / 100)) mod 200) / 8: each time gets one block of 100
    // events, scheduled in the order of their callbacks 0..99. Every third event is cancelled. 20,000 pending
    // puts the far future in buckets, and the ring of registered events grows from 32 slots to 65,536.
    const sim = new Simulator(1);
    const ran: number[] = [];
    const ids = Array.from({ length: 100 }, (_, k) => sim.register(() => ran.push(k)));
    const handles: number[] = [];
    const timeOf = (i: number): number => ((7 * Math.floor(i / 100)) % 200) / 8;
    for (let i = 0; i < 20_000; i++) handles.push(sim.at(timeOf(i), ids[i % 100]!));
    for (let i = 0; i < 20_000; i += 3) expect(sim.cancel(handles[i]!)).toBe(true);
    expect(sim.pending).toBe(20_000 - Math.ceil(20_000 / 3));
    expect(sim.run()).toBe(20_000 - Math.ceil(20_000 / 3));
    const expected = Array.from({ length: 20_000 }, (_, i) => i)
      .filter((i) => i % 3 !== 0)
      .sort((x, y) => timeOf(x) - timeOf(y) || x - y)
      .map((i) => i % 100);
    expect(ran).toEqual(expected);
  });

  it('a handle of a registered event that ran cancels nothing after its slot is handed out again', () => {
    const sim = new Simulator();
    let runs = 0;
    const tick = sim.register(() => runs++);
    const first = sim.schedule(1, tick);
    sim.run();
    // The ring has 32 slots: scheduling and running one event at a time comes back round to the first one's slot.
    const later: number[] = [];
    for (let i = 0; i < 40; i++) {
      later.push(sim.schedule(1, tick));
      expect(sim.cancel(first)).toBe(false);
      expect(sim.isPending(later[i]!)).toBe(true);
      sim.run();
      expect(sim.isPending(later[i]!)).toBe(false);
    }
    expect(runs).toBe(41);
  });

  it('a plain event that schedules a registered one gives its slot back: a long chain of both uses one slot of each', () => {
    const sim = new Simulator();
    let steps = 0;
    const plain = (): void => {
      if (++steps < 10_000) sim.schedule(1, tick);
    };
    const tick = sim.register(() => {
      if (++steps < 10_000) sim.schedule(1, plain, steps);
    });
    sim.schedule(1, plain);
    sim.run();
    expect(steps).toBe(10_000);
    const internals = sim as unknown as { slots: unknown[]; free: number[] };
    expect(internals.slots.length / 3).toBe(1); // one slot table slot, back on the free list, its callback dropped
    expect(internals.free).toEqual([0]);
    expect(internals.slots[0]).toBeNull();
  });

  it('rejects what register() did not hand out, and a register() of something not a function', () => {
    const sim = new Simulator();
    const tick = sim.register(() => undefined);
    expect(() => sim.schedule(1, (tick + 1) as HandlerId)).toThrow(/is not a handler registered with this simulator/);
    expect(() => sim.schedule(1, 0 as HandlerId)).toThrow(SimulationError);
    expect(() => sim.at(1, 1.5 as HandlerId)).toThrow(SimulationError);
    expect(() => sim.register(42 as unknown as () => void)).toThrow(/takes a function, got number/);
    expect(sim.pending).toBe(0);
  });
});

describe('Simulator run modes', () => {
  it('run({until}) runs events up to and including until, then sets the clock to until', () => {
    const sim = new Simulator();
    const seen: number[] = [];
    for (const t of [1, 2, 3, 4]) sim.at(t, () => seen.push(t));
    expect(sim.run({ until: 2.5 })).toBe(2);
    expect(seen).toEqual([1, 2]);
    expect(sim.now).toBe(2.5);
    expect(sim.run({ until: 3 })).toBe(1); // an event exactly at until runs
    expect(sim.now).toBe(3);
    expect(sim.pending).toBe(1);
  });

  it('run({until}) past the last event leaves the clock at until', () => {
    const sim = new Simulator();
    sim.at(1, () => undefined);
    sim.run({ until: 10 });
    expect(sim.now).toBe(10);
  });

  it('run({maxEvents}) runs at most that many events and leaves the clock at the last one', () => {
    const sim = new Simulator();
    for (let t = 1; t <= 10; t++) sim.at(t, () => undefined);
    expect(sim.run({ maxEvents: 4 })).toBe(4);
    expect(sim.now).toBe(4);
    expect(sim.pending).toBe(6);
    expect(sim.eventsRun).toBe(4);
  });

  it('run() with nothing pending returns 0 and step() returns false', () => {
    const sim = new Simulator();
    expect(sim.run()).toBe(0);
    expect(sim.step()).toBe(false);
    sim.schedule(2, () => undefined);
    expect(sim.step()).toBe(true);
    expect(sim.now).toBe(2);
  });

  it('stop() from a handler ends the run after that event', () => {
    const sim = new Simulator();
    const seen: number[] = [];
    sim.at(1, () => seen.push(1));
    sim.at(2, () => {
      seen.push(2);
      sim.stop();
    });
    sim.at(3, () => seen.push(3));
    expect(sim.run()).toBe(2);
    expect(seen).toEqual([1, 2]);
    sim.run();
    expect(seen).toEqual([1, 2, 3]);
  });
});

describe('Simulator cancellation', () => {
  it('cancels by handle, lazily: the cancelled event never runs and pending drops at once', () => {
    const sim = new Simulator();
    const seen: string[] = [];
    const a = sim.schedule(1, () => seen.push('a'));
    sim.schedule(2, () => seen.push('b'));
    expect(sim.pending).toBe(2);
    expect(sim.cancel(a)).toBe(true);
    expect(sim.pending).toBe(1);
    expect(sim.isPending(a)).toBe(false);
    expect(sim.cancel(a)).toBe(false); // twice: no effect
    expect(sim.peek()).toBe(2);
    sim.run();
    expect(seen).toEqual(['b']);
  });

  it('a handle of an event that already ran cancels nothing, even after its slot is reused', () => {
    const sim = new Simulator();
    const seen: string[] = [];
    const old = sim.schedule(1, () => seen.push('old'));
    sim.run();
    const fresh = sim.schedule(1, () => seen.push('fresh')); // reuses the freed slot
    expect(sim.cancel(old)).toBe(false);
    expect(sim.isPending(fresh)).toBe(true);
    sim.run();
    expect(seen).toEqual(['old', 'fresh']);
  });

  it('an event scheduled by a running handler takes its slot: the running handle is dead, the new one live', () => {
    const sim = new Simulator();
    const seen: string[] = [];
    let own = -1;
    let next = -1;
    own = sim.schedule(1, () => {
      expect(sim.isPending(own)).toBe(false); // running: no longer pending
      next = sim.schedule(1, () => seen.push('next')); // takes the running event's queue entry and slot
      expect(sim.cancel(own)).toBe(false); // the old handle must not reach the new event
      expect(sim.isPending(next)).toBe(true);
      sim.schedule(2, () => seen.push('later'));
      expect(sim.cancel(next)).toBe(true);
    });
    sim.run();
    expect(seen).toEqual(['later']);
    expect(sim.now).toBe(3);
    expect(sim.pending).toBe(0);
  });

  it('cancelling from inside a handler works for later events at the same time', () => {
    const sim = new Simulator();
    const seen: string[] = [];
    let b = -1;
    sim.at(1, () => {
      seen.push('a');
      sim.cancel(b);
    });
    b = sim.at(1, () => seen.push('b'));
    sim.run();
    expect(seen).toEqual(['a']);
    expect(sim.eventsRun).toBe(1);
  });
});

describe('Simulator misuse', () => {
  it('rejects scheduling in the past, NaN and negative delays with clear errors', () => {
    const sim = new Simulator();
    sim.schedule(5, () => undefined);
    sim.run();
    expect(() => sim.at(4, () => undefined)).toThrow(SimulationError);
    expect(() => sim.at(4, () => undefined)).toThrow(/in the past/);
    expect(() => sim.schedule(Number.NaN, () => undefined)).toThrow(/delay of NaN/);
    expect(() => sim.schedule(-1, () => undefined)).toThrow(/finite number >= 0/);
    expect(() => sim.schedule(Infinity, () => undefined)).toThrow(SimulationError);
    expect(() => sim.at(Number.NaN, () => undefined)).toThrow(/NaN/);
    expect(() => sim.run({ until: 1 })).toThrow(/before now/);
    expect(sim.pending).toBe(0);
  });
});

describe('Simulator against a reference model', () => {
  // A handler's script: what it does when it runs. Scheduled delays are multiples of 0.5 s, so ties are common; a
  // cancel picks one of the handles scheduled so far; a peek asks for the next time in the middle of a handler.
  // A schedule is of a plain function with an argument, or of a registered callback without one (one registered per
  // event, so past the 127th they take the slot table's path too).
  type Action = { kind: 'schedule'; delay: number; registered: boolean } | { kind: 'cancel'; pick: number } | { kind: 'peek' };
  const action: fc.Arbitrary<Action> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('schedule' as const),
        delay: fc.integer({ min: 0, max: 4 }).map((k) => k / 2),
        registered: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('peek' as const) }) },
  );
  const MAX_EVENTS = 300;

  /** The same program on a plain list kept in (time, seq) order: what the kernel must do, event by event. */
  function reference(starts: number[], scripts: Action[][]): string[] {
    const pending: { time: number; seq: number; id: number }[] = [];
    const cancelled = new Set<number>();
    const trace: string[] = [];
    let seq = 0;
    let now = 0;
    const add = (time: number) => pending.push({ time, seq: seq, id: seq++ });
    const next = () => {
      pending.sort((a, b) => a.time - b.time || a.seq - b.seq);
      while (pending.length && cancelled.has(pending[0]!.id)) pending.shift();
      return pending[0];
    };
    for (const t of starts) add(t);
    while (trace.length < MAX_EVENTS) {
      const e = next();
      if (!e) break;
      pending.shift();
      now = e.time;
      trace.push(`${e.id}@${now}`);
      for (const a of scripts[e.id % scripts.length]!) {
        if (a.kind === 'schedule') add(now + a.delay);
        else if (a.kind === 'cancel') {
          const id = a.pick % seq;
          if (pending.some((p) => p.id === id) && !cancelled.has(id)) cancelled.add(id);
        } else trace.push(`peek ${next()?.time ?? Infinity}`);
      }
    }
    return trace;
  }

  /** The program on the kernel; `checked` runs it in debug mode (checkEveryEvent), whose loop is another one. */
  function kernel(starts: number[], scripts: Action[][], checked = false): string[] {
    const sim = new Simulator();
    const trace: string[] = [];
    const handles: number[] = [];
    const handler = (id: number): void => {
      trace.push(`${id}@${sim.now}`);
      if (trace.filter((l) => !l.startsWith('peek')).length >= MAX_EVENTS) sim.stop();
      for (const a of scripts[id % scripts.length]!) {
        if (a.kind === 'schedule') handles.push(a.registered ? sim.schedule(a.delay, registerFor(handles.length)) : sim.schedule(a.delay, handler, handles.length));
        else if (a.kind === 'cancel') sim.cancel(handles[a.pick % handles.length]!);
        else trace.push(`peek ${sim.peek()}`);
      }
    };
    const registerFor = (id: number) => sim.register(() => handler(id));
    starts.forEach((t, i) => handles.push(i % 2 === 0 ? sim.at(t, handler, handles.length) : sim.at(t, registerFor(handles.length))));
    if (checked) sim.checkEveryEvent(() => undefined);
    sim.run();
    return trace;
  }

  it('runs any program of schedules, cancels and peeks from handlers in the same order as a sorted list', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 8 }).map((k) => k / 2), { minLength: 1, maxLength: 12 }),
        fc.array(fc.array(action, { maxLength: 3 }), { minLength: 1, maxLength: 6 }),
        (starts, scripts) => {
          const want = reference(starts, scripts);
          // The reference stops after MAX_EVENTS events; the kernel stops in the handler of the last one, after its script.
          const got = kernel(starts, scripts);
          expect(got.slice(0, want.length)).toEqual(want);
          expect(kernel(starts, scripts, true)).toEqual(got);
        },
      ),
      { numRuns: 300, seed: 20261121 },
    );
  });

  it.each([false, true])('a handler that throws leaves the kernel usable: the next run starts from the next event (registered: %s)', (registered) => {
    const sim = new Simulator();
    const seen: string[] = [];
    const boom = (): void => {
      seen.push('a');
      throw new Error('boom');
    };
    sim.at(1, registered ? sim.register(boom) : boom);
    sim.at(2, () => seen.push('b'));
    expect(() => sim.run()).toThrow('boom');
    sim.schedule(0.5, () => seen.push('c')); // scheduled while the thrown event's entry was still at the top
    sim.run();
    expect(seen).toEqual(['a', 'c', 'b']);
    expect(sim.pending).toBe(0);
  });
});
