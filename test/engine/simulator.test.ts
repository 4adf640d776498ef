import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { DEADLINE_ENV, checkDeadline } from '../../src/deadline.js';
import { UserError } from '../../src/errors.js';
import { Simulator, SimulationError } from '../../src/engine/index.js';

/** Entries in the kernel's queue, cancelled ones included (to see a compaction happen). */
const queued = (sim: Simulator): number => (sim as unknown as { queue: { size: number } }).queue.size;

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
    expect(sim.eventsRun).toBe(3);
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

  it('runs 20,000 events at 200 distinct times in time order, FIFO within a time, cancelled ones never', () => {
    // Event i at time ((7i) mod 200) / 8: 100 events share each time, scheduled in increasing i. Every third is
    // cancelled (fewer than the live ones: they stay in the queue and are skipped as they come out).
    const sim = new Simulator(1);
    const ran: number[] = [];
    const handles: number[] = [];
    for (let i = 0; i < 20_000; i++) handles.push(sim.at(((7 * i) % 200) / 8, (n: number) => ran.push(n), i));
    for (let i = 0; i < 20_000; i += 3) expect(sim.cancel(handles[i]!)).toBe(true);
    expect(sim.pending).toBe(13_333);
    expect(queued(sim)).toBe(20_000);
    expect(sim.run()).toBe(13_333);
    // Time 0 holds i = 0, 200, 400, ... (7i a multiple of 200); of those the cancelled ones are multiples of 3.
    expect(ran.slice(0, 4)).toEqual([200, 400, 800, 1000]);
    const expected = Array.from({ length: 20_000 }, (_, i) => i)
      .filter((i) => i % 3 !== 0)
      .sort((a, b) => ((7 * a) % 200) - ((7 * b) % 200) || a - b);
    expect(ran).toEqual(expected);
    expect(sim.pending).toBe(0);
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
    expect(queued(sim)).toBe(2); // still in the queue
    expect(sim.cancel(a)).toBe(false); // twice: no effect
    expect(sim.run()).toBe(1);
    expect(seen).toEqual(['b']);
    expect(sim.eventsRun).toBe(1);
  });

  it('cancel() of something that was never a handle is false', () => {
    const sim = new Simulator();
    sim.schedule(1, () => undefined);
    for (const h of [-1, 1.5, Number.NaN, 2 ** 24 + 7, Infinity]) expect(sim.cancel(h)).toBe(false);
    expect(sim.pending).toBe(1);
  });

  it('a handle of an event that already ran cancels nothing, even after its slot is reused', () => {
    const sim = new Simulator();
    const seen: string[] = [];
    const old = sim.schedule(1, () => seen.push('old'));
    sim.run();
    const fresh = sim.schedule(1, () => seen.push('fresh')); // reuses the freed slot
    expect(fresh).not.toBe(old);
    expect(sim.cancel(old)).toBe(false);
    sim.run();
    expect(seen).toEqual(['old', 'fresh']);
  });

  it('the running event cannot cancel itself; an event it schedules can be cancelled', () => {
    const sim = new Simulator();
    const seen: string[] = [];
    let own = -1;
    own = sim.schedule(1, () => {
      expect(sim.cancel(own)).toBe(false); // running: no longer pending
      const next = sim.schedule(1, () => seen.push('next'));
      sim.schedule(2, () => seen.push('later'));
      expect(sim.cancel(next)).toBe(true);
      expect(sim.pending).toBe(1);
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

  it('compacts the queue when cancelled entries outnumber live ones, and the order is unchanged', () => {
    // 1,000 events, event i at ((7i) mod 100) / 4; every i not a multiple of 5 is cancelled, in increasing i. After
    // k cancels, k are dead and 1000 - k live: the 501st cancel (501 > 499) compacts the queue to 499 entries. From
    // then on dead = k - 501 and live = 1000 - k: the 751st cancel (250 > 249) compacts it to 249. The last 49
    // cancels stay in the queue: 249 entries, 200 of them live.
    const sim = new Simulator();
    const ran: number[] = [];
    const handles: number[] = [];
    const timeOf = (i: number): number => ((7 * i) % 100) / 4;
    for (let i = 0; i < 1000; i++) handles.push(sim.at(timeOf(i), (n: number) => ran.push(n), i));
    let cancels = 0;
    for (let i = 0; i < 1000; i++) {
      if (i % 5 === 0) continue;
      expect(sim.cancel(handles[i]!)).toBe(true);
      cancels++;
      if (cancels === 500) expect(queued(sim)).toBe(1000);
      if (cancels === 501) expect(queued(sim)).toBe(499);
      if (cancels === 750) expect(queued(sim)).toBe(499);
      if (cancels === 751) expect(queued(sim)).toBe(249);
    }
    expect([sim.pending, queued(sim)]).toEqual([200, 249]);
    // Handles of events compacted away stay dead, also once their slots hold new events.
    const fresh = Array.from({ length: 300 }, (_, k) => sim.at(1000 + k, () => ran.push(-1)));
    for (let i = 1; i < 1000; i += 5) expect(sim.cancel(handles[i]!)).toBe(false);
    expect(sim.pending).toBe(500);
    expect(sim.run()).toBe(500);
    // 7i mod 100 for i = 5m is 35m mod 100: 0 for m = 0, 20, ..., 180 (i = 0, 100, ..., 900), then 5 for m = 3 + 20j
    // (i = 15, 115, ...).
    expect(ran.slice(0, 12)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 15, 115]);
    const live = Array.from({ length: 200 }, (_, m) => 5 * m).sort((a, b) => timeOf(a) - timeOf(b) || a - b);
    expect(ran).toEqual([...live, ...fresh.map(() => -1)]);
  });

  it('counts cancelled entries that came out of the queue: only those still in it weigh towards compaction', () => {
    // Events at t = 1..200. Cancelling t = 1..60 leaves 60 dead and 140 live (no compaction: 60 is not more than
    // 64); a run to t = 60.5 takes the 60 dead entries out without running anything. Cancelling t = 61..130 then
    // makes 70 dead against 70 live: still no compaction. One more (t = 131), 71 against 69, compacts to 69.
    const sim = new Simulator();
    const handles = Array.from({ length: 200 }, (_, k) => sim.at(k + 1, () => undefined));
    for (let k = 0; k < 60; k++) sim.cancel(handles[k]!);
    expect(sim.run({ until: 60.5 })).toBe(0);
    expect([sim.now, queued(sim)]).toEqual([60.5, 140]);
    for (let k = 60; k < 130; k++) sim.cancel(handles[k]!);
    expect([sim.pending, queued(sim)]).toEqual([70, 140]);
    sim.cancel(handles[130]!);
    expect([sim.pending, queued(sim)]).toEqual([69, 69]);
    expect(sim.run()).toBe(69);
    expect(sim.now).toBe(200);
  });

  it('a handler that cancels enough to compact the queue leaves the rest of the run in order', () => {
    // Events at t = 1..200; the one at t = 0.5 cancels every t not a multiple of 10 (180 cancels, compacting on the
    // way) and schedules one at t = 5 and one at t = 20 (after the event already there).
    const sim = new Simulator();
    const ran: number[] = [];
    const handles = Array.from({ length: 200 }, (_, k) => sim.at(k + 1, (t: number) => ran.push(t), k + 1));
    sim.at(0.5, () => {
      for (let k = 0; k < 200; k++) if ((k + 1) % 10 !== 0) sim.cancel(handles[k]!);
      expect(queued(sim)).toBeLessThan(200);
      sim.at(5, (t: number) => ran.push(t), 5);
      sim.at(20, (t: number) => ran.push(-t), 20);
    });
    expect(sim.run()).toBe(23);
    expect(ran).toEqual([5, 10, 20, -20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200]);
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

  it('run({until}) past the last event leaves the clock at until; with nothing pending too', () => {
    const sim = new Simulator();
    sim.at(1, () => undefined);
    expect(sim.run({ until: 10 })).toBe(1);
    expect(sim.now).toBe(10);
    expect(sim.run({ until: 12 })).toBe(0);
    expect(sim.now).toBe(12);
  });

  it('run({maxEvents}) runs at most that many events and leaves the clock at the last one', () => {
    const sim = new Simulator();
    for (let t = 1; t <= 10; t++) sim.at(t, () => undefined);
    expect(sim.run({ maxEvents: 4, until: 100 })).toBe(4);
    expect(sim.now).toBe(4); // stopped by maxEvents: the clock does not jump to until
    expect(sim.pending).toBe(6);
    expect(sim.eventsRun).toBe(4);
  });

  it('cancelled events do not count against maxEvents', () => {
    const sim = new Simulator();
    const handles = [1, 2, 3, 4].map((t) => sim.at(t, () => undefined));
    sim.cancel(handles[0]!);
    sim.cancel(handles[1]!);
    expect(sim.run({ maxEvents: 1 })).toBe(1);
    expect(sim.now).toBe(3);
  });

  it('step() runs one event; false when nothing is pending', () => {
    const sim = new Simulator();
    expect(sim.run()).toBe(0);
    expect(sim.step()).toBe(false);
    sim.schedule(2, () => undefined);
    sim.schedule(3, () => undefined);
    expect(sim.step()).toBe(true);
    expect([sim.now, sim.pending]).toEqual([2, 1]);
    expect(sim.step()).toBe(true);
    expect(sim.step()).toBe(false);
    expect(sim.now).toBe(3);
  });

  it('a run in chunks of maxEvents runs the same events as one run, and ends with the clock at until', () => {
    // A chain: each event schedules the next 0.25 s later, 40 in all (t = 0.25 ... 10); until = 20.
    const model = (sim: Simulator, seen: number[]): void => {
      const tick = (k: number): void => {
        seen.push(sim.now);
        if (k < 40) sim.schedule(0.25, tick, k + 1);
      };
      sim.schedule(0.25, tick, 1);
    };
    const whole: number[] = [];
    const a = new Simulator();
    model(a, whole);
    expect(a.run({ until: 20 })).toBe(40);
    const chunked: number[] = [];
    const b = new Simulator();
    model(b, chunked);
    const counts: number[] = [];
    for (;;) {
      const n = b.run({ until: 20, maxEvents: 16 });
      counts.push(n);
      if (n < 16) break;
    }
    expect(counts).toEqual([16, 16, 8]);
    expect(chunked).toEqual(whole);
    expect(whole[39]).toBe(10);
    expect([b.now, b.eventsRun]).toEqual([20, 40]);
  });

  describe('with a --timeout deadline checked between chunks', () => {
    afterEach(() => vi.unstubAllEnvs());

    it('stops between chunks with the deadline error, and the rest of the events stay pending', () => {
      const sim = new Simulator();
      for (let t = 1; t <= 10; t++) sim.at(t, () => undefined);
      vi.stubEnv(DEADLINE_ENV, String(Date.now() - 1)); // already passed
      vi.stubEnv('NIXLSIM_TIMEOUT_S', '5');
      const loop = (): void => {
        while (sim.run({ until: 100, maxEvents: 3 }) === 3) checkDeadline();
      };
      expect(loop).toThrow(UserError);
      expect(loop).toThrow(/^--timeout 5: the command ran out of time/);
      // Each attempt ran one chunk of 3 before its check threw.
      expect([sim.eventsRun, sim.pending, sim.now]).toEqual([6, 4, 6]);
    });
  });
});

describe('Simulator in debug mode (checkEveryEvent)', () => {
  it('calls the check after every event, at its time, and the events are the same as without it', () => {
    const seen: number[] = [];
    const checks: number[] = [];
    const sim = new Simulator();
    for (const t of [2, 1, 1, 3]) sim.at(t, () => seen.push(t));
    sim.checkEveryEvent((now) => checks.push(now));
    expect(sim.run()).toBe(4);
    expect(seen).toEqual([1, 1, 2, 3]);
    expect(checks).toEqual([1, 1, 2, 3]);
    sim.checkEveryEvent(undefined);
    sim.schedule(1, () => undefined);
    sim.run();
    expect(checks).toHaveLength(4);
  });
});

describe('Simulator misuse', () => {
  it('rejects scheduling in the past, NaN and negative delays with clear errors', () => {
    const sim = new Simulator();
    sim.schedule(5, () => undefined);
    sim.run();
    expect(() => sim.at(4, () => undefined)).toThrow(SimulationError);
    expect(() => sim.at(4, () => undefined)).toThrow('cannot schedule at t=4 s: it is in the past (now is t=5 s) or not finite');
    expect(() => sim.schedule(Number.NaN, () => undefined)).toThrow(/delay of NaN/);
    expect(() => sim.schedule(-1, () => undefined)).toThrow(/finite number >= 0/);
    expect(() => sim.schedule(Infinity, () => undefined)).toThrow(SimulationError);
    expect(() => sim.at(Number.NaN, () => undefined)).toThrow('cannot schedule at time NaN');
    expect(() => sim.run({ until: 1 })).toThrow('cannot run until t=1 s: it is before now (t=5 s)');
    expect(() => sim.run({ maxEvents: -1 })).toThrow(/maxEvents must be a number >= 0/);
    expect(sim.pending).toBe(0);
  });

  it('a handler that throws leaves the kernel usable: the next run starts from the next event', () => {
    const sim = new Simulator();
    const seen: string[] = [];
    sim.at(1, () => {
      seen.push('a');
      throw new Error('boom');
    });
    sim.at(2, () => seen.push('b'));
    expect(() => sim.run()).toThrow('boom');
    expect(sim.now).toBe(1);
    sim.schedule(0.5, () => seen.push('c'));
    sim.run();
    expect(seen).toEqual(['a', 'c', 'b']);
    expect(sim.pending).toBe(0);
  });
});

describe('Simulator against a reference model', () => {
  // A handler's script: what it does when it runs. Delays are multiples of 0.5 s, so ties are common; a cancel picks
  // one of the handles handed out so far (often cancelled or run already).
  type Action = { kind: 'schedule'; delay: number } | { kind: 'cancel'; pick: number };
  const action: fc.Arbitrary<Action> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('schedule' as const), delay: fc.integer({ min: 0, max: 4 }).map((k) => k / 2) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  );
  const MAX_EVENTS = 300;

  /** The same program on a plain list kept in (time, seq) order: what the kernel must do, event by event. */
  function reference(starts: number[], scripts: Action[][]): string[] {
    let pending: { time: number; id: number }[] = [];
    const trace: string[] = [];
    let next = 0;
    const add = (time: number) => pending.push({ time, id: next++ }); // ids count schedules: they are the seqs
    for (const t of starts) add(t);
    while (trace.length < MAX_EVENTS && pending.length > 0) {
      pending.sort((a, b) => a.time - b.time || a.id - b.id);
      const e = pending.shift()!;
      trace.push(`${e.id}@${e.time}`);
      for (const a of scripts[e.id % scripts.length]!) {
        if (a.kind === 'schedule') add(e.time + a.delay);
        else {
          const id = a.pick % next;
          const was = pending.length;
          pending = pending.filter((p) => p.id !== id);
          trace.push(`cancel ${id} ${pending.length < was}`);
        }
      }
    }
    return trace;
  }

  function kernel(starts: number[], scripts: Action[][], checked: boolean): string[] {
    const sim = new Simulator();
    const trace: string[] = [];
    const handles: number[] = [];
    const handler = (id: number): void => {
      trace.push(`${id}@${sim.now}`);
      for (const a of scripts[id % scripts.length]!) {
        if (a.kind === 'schedule') handles.push(sim.schedule(a.delay, handler, handles.length));
        else {
          const pick = a.pick % handles.length;
          trace.push(`cancel ${pick} ${sim.cancel(handles[pick]!)}`);
        }
      }
    };
    for (const t of starts) handles.push(sim.at(t, handler, handles.length));
    if (checked) sim.checkEveryEvent(() => undefined);
    sim.run({ maxEvents: MAX_EVENTS });
    return trace;
  }

  it('runs any program of schedules and cancels from handlers in the same order as a sorted list', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 8 }).map((k) => k / 2), { minLength: 1, maxLength: 12 }),
        fc.array(fc.array(action, { maxLength: 4 }), { minLength: 1, maxLength: 6 }),
        (starts, scripts) => {
          const want = reference(starts, scripts);
          const got = kernel(starts, scripts, false);
          // The reference counts trace lines, the kernel events: compare what both ran.
          expect(got.slice(0, want.length)).toEqual(want);
          expect(kernel(starts, scripts, true)).toEqual(got);
        },
      ),
      { numRuns: 300, seed: 20261207 },
    );
  });
});
