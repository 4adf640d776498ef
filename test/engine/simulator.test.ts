import { describe, expect, it } from 'vitest';
import { Simulator, SimulationError } from '../../src/engine/index.js';

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
