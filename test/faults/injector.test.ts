import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Simulator } from '../../src/engine/index.js';
import { InvariantError, UserError } from '../../src/errors.js';
import { FaultInjector, type Fault } from '../../src/faults/injector.js';
import { FAULT_KINDS, type FaultSpec } from '../../src/spec/experiment.js';

/** Runs a simulation with these specs to `until` and returns every delivered fault, in delivery order. */
function collect(seed: number | string, specs: FaultSpec[], until = 1000): { faults: Fault[]; inj: FaultInjector } {
  const sim = new Simulator(seed);
  const inj = new FaultInjector(sim, specs, { until });
  const faults: Fault[] = [];
  for (const kind of FAULT_KINDS) {
    inj.on(kind, (f) => {
      expect(f.time).toBe(sim.now); // delivered at the moment it happens
      faults.push(f);
    });
  }
  inj.start();
  sim.run({ until });
  return { faults, inj };
}

const timesOf = (faults: Fault[], spec = 0): number[] => faults.filter((f) => f.spec === spec).map((f) => f.time);

describe('scheduled faults', () => {
  it('fire exactly at the listed times, in time order', () => {
    const { faults, inj } = collect(1, [{ kind: 'connection_reset', at: [5, 1.25, 7.5], target: 'conn-a' }], 10);
    expect(faults).toEqual([
      { kind: 'connection_reset', time: 1.25, target: 'conn-a', spec: 0 },
      { kind: 'connection_reset', time: 5, target: 'conn-a', spec: 0 },
      { kind: 'connection_reset', time: 7.5, target: 'conn-a', spec: 0 },
    ]);
    expect(inj.counts()).toEqual({ connection_reset: 3, health_503: 0, link_down: 0, worker_restart: 0 });
  });

  it('fire at any list of times (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { maxLength: 20 }), (at) => {
        const { faults } = collect(3, [{ kind: 'health_503', at }], 100);
        expect(faults.map((f) => f.time)).toEqual([...at].sort((a, b) => a - b));
      }),
    );
  });

  it('take link_down down at t and up at t + duration', () => {
    const sim = new Simulator(1);
    const inj = new FaultInjector(sim, [{ kind: 'link_down', at: [10, 50], durationS: 2.5, target: 'rail-3' }]);
    const seen: Fault[] = [];
    inj.on('link_down', (f) => seen.push(f));
    inj.start();
    sim.run({ until: 11 });
    expect(inj.isDown('link_down', 'rail-3')).toBe(true);
    expect(inj.isDown('link_down', 'rail-0')).toBe(false);
    sim.run();
    // 10 + 2.5 = 12.5 and 50 + 2.5 = 52.5.
    expect(seen).toEqual([
      { kind: 'link_down', time: 10, target: 'rail-3', phase: 'down', spec: 0 },
      { kind: 'link_down', time: 12.5, target: 'rail-3', phase: 'up', spec: 0 },
      { kind: 'link_down', time: 50, target: 'rail-3', phase: 'down', spec: 0 },
      { kind: 'link_down', time: 52.5, target: 'rail-3', phase: 'up', spec: 0 },
    ]);
    expect(inj.isDown('link_down', 'rail-3')).toBe(false);
    expect(inj.counts().link_down).toBe(2);
  });

  it('merge overlapping outages of one target into one, ending at the later end', () => {
    // Down at 10 for 5 s (until 15); a second fault at 11 for 5 s would end at 16 > 15: one outage, 10 to 16.
    // A third at 12 for 1 s ends at 13 < 16: no change.
    const { faults, inj } = collect(
      1,
      [
        { kind: 'link_down', at: [10], durationS: 5, target: 'rail-0' },
        { kind: 'link_down', at: [11], durationS: 5, target: 'rail-0' },
        { kind: 'link_down', at: [12], durationS: 1, target: 'rail-0' },
        { kind: 'link_down', at: [12], durationS: 1, target: 'rail-1' }, // another target: its own outage, 12 to 13
      ],
      100,
    );
    expect(faults.map((f) => [f.target, f.phase, f.time, f.spec])).toEqual([
      ['rail-0', 'down', 10, 0],
      ['rail-1', 'down', 12, 3],
      ['rail-1', 'up', 13, 3],
      ['rail-0', 'up', 16, 1], // the end came from spec 1's fault
    ]);
    expect(inj.counts().link_down).toBe(2); // two outages begun: rail-0 at 10, rail-1 at 12
  });

  it('restart a worker: start at t, end after the downtime', () => {
    const { faults } = collect(1, [{ kind: 'worker_restart', at: [3], downtimeS: 30, target: 'decode-1' }], 100);
    // 3 + 30 = 33.
    expect(faults).toEqual([
      { kind: 'worker_restart', time: 3, target: 'decode-1', phase: 'start', spec: 0 },
      { kind: 'worker_restart', time: 33, target: 'decode-1', phase: 'end', spec: 0 },
    ]);
  });

  it('reject a time before start()', () => {
    const sim = new Simulator(1);
    sim.run({ until: 20 });
    const inj = new FaultInjector(sim, [{ kind: 'health_503', at: [30, 10] }]);
    expect(() => inj.start()).toThrow(/fault spec 0 \(health_503\): at\[1\] 10 s is before the start/);
  });
});

describe('Poisson faults', () => {
  it('arrive at about rate x time', () => {
    const { faults } = collect(42, [{ kind: 'connection_reset', rate: 2 }], 1000);
    // Expected 2 /s x 1000 s = 2000; a Poisson count has sd sqrt(2000) = 44.7, so 5% (100) is 2.2 sd.
    expect(faults.length).toBeGreaterThan(1900);
    expect(faults.length).toBeLessThan(2100);
    const t = faults.map((f) => f.time);
    expect(t.every((x, i) => x > 0 && x <= 1000 && (i === 0 || x >= t[i - 1]!))).toBe(true);
  });

  it('are the same for the same seed and differ for another', () => {
    const spec: FaultSpec[] = [{ kind: 'health_503', rate: 0.5 }];
    const a = timesOf(collect(7, spec, 200).faults);
    const b = timesOf(collect(7, spec, 200).faults);
    const c = timesOf(collect(8, spec, 200).faults);
    expect(a.length).toBeGreaterThan(0); // expected 0.5 x 200 = 100
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('of one spec do not change when another spec is added', () => {
    const first: FaultSpec = { kind: 'connection_reset', rate: 1 };
    const alone = timesOf(collect(5, [first], 300).faults, 0);
    const withOthers = collect(
      5,
      [
        first,
        { kind: 'connection_reset', rate: 3 }, // same kind, its own stream
        { kind: 'link_down', rate: 0.1, durationS: 2, target: 'rail-0' },
      ],
      300,
    );
    expect(alone.length).toBeGreaterThan(0); // expected 1 x 300 = 300
    expect(timesOf(withOthers.faults, 0)).toEqual(alone);
    expect(timesOf(withOthers.faults, 1).length).toBeGreaterThan(0);
  });

  it('do not change however often the same spec is rolled', () => {
    const spec: FaultSpec[] = [{ kind: 'connection_reset', rate: 1, probability: 0.5 }];
    const quiet = timesOf(collect(9, spec, 100).faults);

    const sim = new Simulator(9);
    const inj = new FaultInjector(sim, spec, { until: 100 });
    const busy: number[] = [];
    inj.on('connection_reset', (f) => {
      busy.push(f.time);
      for (let i = 0; i < 17; i++) inj.roll('connection_reset');
    });
    inj.start();
    sim.run({ until: 100 });
    expect(busy).toEqual(quiet);
  });

  it('stop at until, and need one', () => {
    const { faults } = collect(3, [{ kind: 'health_503', rate: 10 }], 5);
    expect(faults.every((f) => f.time <= 5)).toBe(true);
    expect(() => new FaultInjector(new Simulator(1), [{ kind: 'health_503', rate: 1 }])).toThrow(InvariantError);
    // No rate, no until needed.
    expect(() => new FaultInjector(new Simulator(1), [{ kind: 'health_503', at: [1] }])).not.toThrow();
  });
});

describe('probability faults', () => {
  it('say yes with the given probability', () => {
    const inj = new FaultInjector(new Simulator(11), [{ kind: 'connection_reset', probability: 0.25 }]);
    let hits = 0;
    for (let i = 0; i < 40_000; i++) if (inj.roll('connection_reset', `conn-${i % 7}`)) hits++;
    // Expected 40,000 x 0.25 = 10,000; sd sqrt(40,000 x 0.25 x 0.75) = sqrt(7,500) = 86.6, so 3% (300) is 3.5 sd.
    expect(hits).toBeGreaterThan(9_700);
    expect(hits).toBeLessThan(10_300);
    expect(inj.counts().connection_reset).toBe(hits);
  });

  it('match targets', () => {
    const inj = new FaultInjector(new Simulator(1), [{ kind: 'connection_reset', probability: 1, target: 'conn-a' }]);
    expect(inj.roll('connection_reset', 'conn-a')).toBe(true);
    expect(inj.roll('connection_reset', 'conn-b')).toBe(false);
    expect(inj.roll('connection_reset')).toBe(false);
    expect(inj.roll('health_503', 'conn-a')).toBe(false); // no spec of that kind
    const any = new FaultInjector(new Simulator(1), [{ kind: 'health_503', probability: 1 }]);
    expect(any.roll('health_503', 'decode-4')).toBe(true);
    expect(any.roll('health_503')).toBe(true);
    const never = new FaultInjector(new Simulator(1), [{ kind: 'health_503', probability: 0 }]);
    expect(Array.from({ length: 100 }, () => never.roll('health_503')).some(Boolean)).toBe(false);
  });

  it('are not delivered to listeners', () => {
    const inj = new FaultInjector(new Simulator(1), [{ kind: 'health_503', probability: 1 }]);
    let heard = 0;
    inj.on('health_503', () => heard++);
    inj.start();
    expect(inj.roll('health_503')).toBe(true);
    expect(heard).toBe(0);
    expect(inj.counts().health_503).toBe(1);
  });
});

describe('listeners', () => {
  it('can unsubscribe', () => {
    const sim = new Simulator(1);
    const inj = new FaultInjector(sim, [{ kind: 'health_503', at: [1, 2] }]);
    const heard: number[] = [];
    const off = inj.on('health_503', (f) => {
      heard.push(f.time);
      off();
    });
    inj.start();
    sim.run();
    expect(heard).toEqual([1]);
    expect(inj.counts().health_503).toBe(2); // still injected, just not heard
  });

  it('cannot start twice', () => {
    const inj = new FaultInjector(new Simulator(1), [{ kind: 'health_503', at: [1] }]);
    inj.start();
    expect(() => inj.start()).toThrow(InvariantError);
  });
});

describe('spec validation', () => {
  const bad = (specs: unknown[], options = { until: 10 }): (() => FaultInjector) => () =>
    new FaultInjector(new Simulator(1), specs as FaultSpec[], options);

  it.each([
    [[{ kind: 'connection_reset', rate: -1 }], /^fault spec 0 \(connection_reset\): rate must be a finite number >= 0, got -1$/],
    [[{ kind: 'connection_reset', rate: Number.NaN }], /fault spec 0 \(connection_reset\): rate /],
    [[{ kind: 'connection_reset', rate: Infinity }], /fault spec 0 \(connection_reset\): rate /],
    [[{ kind: 'health_503', probability: 1.5 }], /fault spec 0 \(health_503\): probability must be .* <= 1, got 1.5/],
    [[{ kind: 'health_503', probability: -0.1 }], /fault spec 0 \(health_503\): probability /],
    [[{ kind: 'health_503', rate: '2' }], /fault spec 0 \(health_503\): rate .* got 2/],
    [[{ kind: 'health_503' }], /fault spec 0 \(health_503\): give at least one of rate, probability or at/],
    [[{ kind: 'health_503', at: [1] }, { kind: 'health_503', at: [1, -2] }], /fault spec 1 \(health_503\): at\[1\] /],
    [[{ kind: 'health_503', at: 5 }], /fault spec 0 \(health_503\): at must be a list/],
    [[{ kind: 'link_down', at: [1], target: 'rail-0' }], /fault spec 0 \(link_down\): durationS is required/],
    [[{ kind: 'link_down', at: [1], durationS: Infinity, target: 'r' }], /fault spec 0 \(link_down\): durationS /],
    [[{ kind: 'link_down', at: [1], durationS: 1 }], /fault spec 0 \(link_down\): target is required/],
    [[{ kind: 'link_down', probability: 0.1, durationS: 1, target: 'r' }], /fault spec 0 \(link_down\): probability is not supported/],
    [[{ kind: 'worker_restart', at: [1], downtimeS: -5, target: 'w' }], /fault spec 0 \(worker_restart\): downtimeS /],
    [[{ kind: 'health_503', at: [1], target: '' }], /fault spec 0 \(health_503\): target /],
    [[{ kind: 'disk_full', at: [1] }], /fault spec 0: kind must be one of/],
  ])('rejects %j', (specs, message) => {
    expect(bad(specs)).toThrow(UserError);
    expect(bad(specs)).toThrow(message);
  });

  it('rejects a bad until', () => {
    expect(bad([{ kind: 'health_503', at: [1] }], { until: -1 })).toThrow(/until must be a finite number >= 0/);
  });

  it('accepts zero rate, probability and duration', () => {
    expect(bad([{ kind: 'health_503', rate: 0, probability: 0 }])).not.toThrow();
    expect(bad([{ kind: 'link_down', at: [0], durationS: 0, target: 'r' }])).not.toThrow();
  });
});
