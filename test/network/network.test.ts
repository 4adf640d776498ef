import { describe, expect, it } from 'vitest';
import { Simulator } from '../../src/engine/index.js';
import { Network, NetworkError, type Flow, type FlowSpec, type Link } from '../../src/network/index.js';

const MB = 1e6;

/** A network on a fresh kernel, plus a helper that records each flow's finish time by tag. */
function setup() {
  const sim = new Simulator(1);
  const net = new Network(sim);
  const finishedAt = new Map<string, number>();
  const start = (spec: Omit<FlowSpec, 'onDone'> & { tag: string }): Flow =>
    net.startFlow({ ...spec, onDone: (f) => finishedAt.set(f.tag!, sim.now) });
  return { sim, net, finishedAt, start };
}

describe('one link', () => {
  it('one 100 MB flow alone on a 100 MB/s link takes 1 s; with 0.5 s of latency it ends at 1.5 s', () => {
    const { sim, net, finishedAt, start } = setup();
    const link = net.addLink('l', 100 * MB);
    const a = start({ path: [link], bytes: 100 * MB, tag: 'a' }); // 100 MB / 100 MB/s = 1 s
    const b = start({ path: [net.addLink('m', 100 * MB)], bytes: 100 * MB, latencyS: 0.5, tag: 'b' }); // 0.5 + 1
    sim.run();
    expect(finishedAt.get('a')).toBe(1);
    expect(finishedAt.get('b')).toBe(1.5);
    expect(a.finishedAt).toBe(1);
    expect(a.state).toBe('done');
    expect(b.startedAt).toBe(0.5);
    expect(a.remaining).toBe(0);
  });

  it.each([2, 10])('%i equal flows started together share the link and each take n times as long', (n) => {
    const { sim, net, finishedAt, start } = setup();
    const link = net.addLink('l', 100 * MB);
    // Each gets 100/n MB/s, so 100 MB takes n seconds; all finish together.
    for (let i = 0; i < n; i++) start({ path: [link], bytes: 100 * MB, tag: `f${i}` });
    expect(net.activeFlows[0]!.rate).toBeCloseTo((100 * MB) / n, 6);
    sim.run();
    for (let i = 0; i < n; i++) expect(finishedAt.get(`f${i}`)).toBeCloseTo(n, 12);
  });

  it('a flow arriving later shares from then on (equal finish)', () => {
    // A: 100 MB at t=0, alone at 100 MB/s until 0.5 s -> 50 MB moved, 50 MB left.
    // B: 50 MB at t=0.5. Both then get 50 MB/s: A's 50 MB and B's 50 MB each take 1 s -> both end at 1.5 s.
    // Check: 150 MB through a 100 MB/s link kept busy from 0 ends at 1.5 s.
    const { sim, net, finishedAt, start } = setup();
    const link = net.addLink('l', 100 * MB);
    start({ path: [link], bytes: 100 * MB, tag: 'A' });
    sim.at(0.5, () => start({ path: [link], bytes: 50 * MB, tag: 'B' }));
    sim.run();
    expect(finishedAt.get('A')).toBeCloseTo(1.5, 12);
    expect(finishedAt.get('B')).toBeCloseTo(1.5, 12);
  });

  it('a flow arriving later shares from then on (the short one leaves first and the long one speeds up)', () => {
    // A: 100 MB at t=0, alone until 0.5 s -> 50 MB left.
    // B: 20 MB at t=0.5; each gets 50 MB/s; B needs 20/50 = 0.4 s -> ends at 0.9 s. A moved 20 MB meanwhile -> 30 left.
    // A alone again at 100 MB/s: 30/100 = 0.3 s -> ends at 1.2 s. Check: 120 MB on a link busy from 0 -> 1.2 s.
    const { sim, net, finishedAt, start } = setup();
    const link = net.addLink('l', 100 * MB);
    const a = start({ path: [link], bytes: 100 * MB, tag: 'A' });
    sim.at(0.5, () => start({ path: [link], bytes: 20 * MB, tag: 'B' }));
    sim.at(0.7, () => {
      // Mid-way: A has 50 - 0.2 x 50 = 40 MB left, at 50 MB/s.
      expect(a.remaining).toBeCloseTo(40 * MB, 3);
      expect(a.rate).toBeCloseTo(50 * MB, 6);
    });
    sim.run();
    expect(finishedAt.get('B')).toBeCloseTo(0.9, 12);
    expect(finishedAt.get('A')).toBeCloseTo(1.2, 12);
  });

  it('a flow in its latency holds no bandwidth', () => {
    // A: 100 MB at t=0, alone until 0.5 -> 50 MB left. B: 100 MB, latency 0.5 -> moves from 0.5.
    // Shared at 50 MB/s: A's 50 MB takes 1 s -> 1.5 s; B moved 50 MB by then, 50 left alone at 100 MB/s -> 2.0 s.
    const { sim, net, finishedAt, start } = setup();
    const link = net.addLink('l', 100 * MB);
    start({ path: [link], bytes: 100 * MB, tag: 'A' });
    const b = start({ path: [link], bytes: 100 * MB, latencyS: 0.5, tag: 'B' });
    expect(b.state).toBe('waiting');
    expect(b.rate).toBe(0);
    expect(link.flowCount).toBe(1);
    sim.run();
    expect(finishedAt.get('A')).toBeCloseTo(1.5, 12);
    expect(finishedAt.get('B')).toBeCloseTo(2, 12);
  });

  it('flows on disjoint links (two rails) do not slow each other', () => {
    const { sim, net, finishedAt, start } = setup();
    const rail0 = net.addLink('p0.nic0', 100 * MB);
    const rail1 = net.addLink('p0.nic1', 100 * MB);
    start({ path: [rail0], bytes: 100 * MB, tag: 'a' }); // 100 MB / 100 MB/s
    start({ path: [rail1], bytes: 100 * MB, tag: 'b' });
    sim.run();
    expect(finishedAt.get('a')).toBe(1);
    expect(finishedAt.get('b')).toBe(1);
  });
});

describe('max-min fairness', () => {
  it('the classic example: X over [L1, L2], Y over [L1], Z over [L2], capacities 10 -> 5 each', () => {
    // Both links have 10 to split between 2 flows: share 5 each; X gets 5 on both, so nothing is left to redistribute.
    const { net, start } = setup();
    const l1 = net.addLink('L1', 10 * MB);
    const l2 = net.addLink('L2', 10 * MB);
    const x = start({ path: [l1, l2], bytes: 100 * MB, tag: 'X' });
    const y = start({ path: [l1], bytes: 100 * MB, tag: 'Y' });
    const z = start({ path: [l2], bytes: 100 * MB, tag: 'Z' });
    expect(x.rate).toBeCloseTo(5 * MB, 6);
    expect(y.rate).toBeCloseTo(5 * MB, 6);
    expect(z.rate).toBeCloseTo(5 * MB, 6);
  });

  it('asymmetric: L1 = 10, L2 = 4; X over [L1, L2] is held to 4 by L2, Y over [L1] takes the other 6', () => {
    // Shares: L1 10/2 = 5, L2 4/1 = 4 -> L2 is the bottleneck: X = 4. L1 then has 10 - 4 = 6 for Y alone.
    const { net, start } = setup();
    const l1 = net.addLink('L1', 10 * MB);
    const l2 = net.addLink('L2', 4 * MB);
    const x = start({ path: [l1, l2], bytes: 100 * MB, tag: 'X' });
    const y = start({ path: [l1], bytes: 100 * MB, tag: 'Y' });
    expect(x.rate).toBeCloseTo(4 * MB, 6);
    expect(y.rate).toBeCloseTo(6 * MB, 6);
    expect(l1.allocated).toBeCloseTo(10 * MB, 6);
    expect(l2.allocated).toBeCloseTo(4 * MB, 6);
  });

  it('three levels: A, B, C on L1 = 10; C also on L2 = 2 -> C = 2, A = B = 4', () => {
    // Shares: L1 10/3 = 3.33, L2 2/1 = 2 -> freeze C at 2. L1 has 8 left for A and B: 4 each.
    const { net, start } = setup();
    const l1 = net.addLink('L1', 10 * MB);
    const l2 = net.addLink('L2', 2 * MB);
    const a = start({ path: [l1], bytes: MB, tag: 'A' });
    const b = start({ path: [l1], bytes: MB, tag: 'B' });
    const c = start({ path: [l1, l2], bytes: MB, tag: 'C' });
    expect([a.rate, b.rate, c.rate].map((r) => r / MB)).toEqual([4, 4, 2].map((r) => expect.closeTo(r, 9)));
  });

  it('rates follow membership: when the bottlenecked flow leaves, the other takes the whole link', () => {
    // L1 = 10, L2 = 4. X (8 MB over [L1, L2]) at 4, Y (100 MB over [L1]) at 6. X ends at 8/4 = 2 s.
    // Y moved 12 MB by then, 88 MB left at 10 MB/s -> 8.8 s more -> 10.8 s.
    const { sim, net, finishedAt, start } = setup();
    const l1 = net.addLink('L1', 10 * MB);
    const l2 = net.addLink('L2', 4 * MB);
    start({ path: [l1, l2], bytes: 8 * MB, tag: 'X' });
    start({ path: [l1], bytes: 100 * MB, tag: 'Y' });
    sim.run();
    expect(finishedAt.get('X')).toBeCloseTo(2, 12);
    expect(finishedAt.get('Y')).toBeCloseTo(10.8, 12);
  });
});

describe('rateCap', () => {
  it('a capped flow alone goes no faster than its cap: 100 MB at 20 MB/s takes 5 s', () => {
    const { sim, net, finishedAt, start } = setup();
    const link = net.addLink('l', 100 * MB);
    const f = start({ path: [link], bytes: 100 * MB, rateCap: 20 * MB, tag: 'a' });
    expect(f.rate).toBe(20 * MB);
    sim.run();
    expect(finishedAt.get('a')).toBeCloseTo(5, 12);
  });

  it('what a capped flow leaves unused goes to the others: capped at 20 -> the other gets 80', () => {
    // a: 20 MB capped at 20 MB/s -> 1 s. b: 100 MB at 80 MB/s moves 80 MB by 1 s, then 20 MB alone at 100 -> 1.2 s.
    const { sim, net, finishedAt, start } = setup();
    const link = net.addLink('l', 100 * MB);
    const a = start({ path: [link], bytes: 20 * MB, rateCap: 20 * MB, tag: 'a' });
    const b = start({ path: [link], bytes: 100 * MB, tag: 'b' });
    expect(a.rate).toBeCloseTo(20 * MB, 6);
    expect(b.rate).toBeCloseTo(80 * MB, 6);
    sim.run();
    expect(finishedAt.get('a')).toBeCloseTo(1, 12);
    expect(finishedAt.get('b')).toBeCloseTo(1.2, 12);
  });

  it('a cap above the fair share changes nothing', () => {
    // Fair share 50 < cap 70, so both get 50.
    const { net, start } = setup();
    const link = net.addLink('l', 100 * MB);
    const a = start({ path: [link], bytes: MB, rateCap: 70 * MB, tag: 'a' });
    const b = start({ path: [link], bytes: MB, tag: 'b' });
    expect(a.rate).toBeCloseTo(50 * MB, 6);
    expect(b.rate).toBeCloseTo(50 * MB, 6);
  });
});

describe('cancelFlow', () => {
  it('frees the share at once, speeds the other up, and never calls onDone', () => {
    // A, B: 100 MB each at 50 MB/s. At 0.5 s each moved 25 MB; B is cancelled.
    // A has 75 MB left, alone at 100 MB/s -> 0.75 s more -> 1.25 s. The link carried 100 + 25 = 125 MB.
    const { sim, net, finishedAt, start } = setup();
    const link = net.addLink('l', 100 * MB);
    const a = start({ path: [link], bytes: 100 * MB, tag: 'A' });
    const b = start({ path: [link], bytes: 100 * MB, tag: 'B' });
    sim.at(0.5, () => {
      expect(net.cancelFlow(b)).toBe(true);
      expect(a.rate).toBeCloseTo(100 * MB, 6);
    });
    sim.run();
    expect(finishedAt.get('A')).toBeCloseTo(1.25, 12);
    expect(finishedAt.has('B')).toBe(false);
    expect(b.state).toBe('cancelled');
    expect(b.finishedAt).toBeUndefined();
    expect(b.remaining).toBeCloseTo(75 * MB, 3);
    expect(b.rate).toBe(0);
    expect(link.bytesCarried).toBeCloseTo(125 * MB, 3);
    expect(net.cancelFlow(b)).toBe(false);
    expect(net.cancelFlow(a)).toBe(false);
  });

  it('cancelling a flow still in its latency leaves no trace', () => {
    const { sim, net, finishedAt, start } = setup();
    const link = net.addLink('l', 100 * MB);
    start({ path: [link], bytes: 100 * MB, tag: 'A' });
    const b = start({ path: [link], bytes: 100 * MB, latencyS: 0.5, tag: 'B' });
    sim.at(0.25, () => net.cancelFlow(b));
    sim.run();
    expect(finishedAt.get('A')).toBe(1);
    expect(finishedAt.has('B')).toBe(false);
    expect(b.remaining).toBe(100 * MB);
    expect(net.activeFlowCount).toBe(0);
  });
});

describe('edges', () => {
  it('a zero-byte flow finishes after its latency, and never from inside startFlow', () => {
    const { sim, net, finishedAt, start } = setup();
    const link = net.addLink('l', 100 * MB);
    start({ path: [link], bytes: 0, latencyS: 15e-6, tag: 'a' });
    start({ path: [link], bytes: 0, tag: 'b' });
    expect(finishedAt.size).toBe(0);
    sim.run();
    expect(finishedAt.get('a')).toBe(15e-6);
    expect(finishedAt.get('b')).toBe(0);
    expect(link.bytesCarried).toBe(0);
    expect(link.busyTime).toBe(0);
  });

  it('onDone may start the next flow', () => {
    // Two 100 MB transfers back to back on a 100 MB/s link: 1 s + 1 s.
    const { sim, net, finishedAt, start } = setup();
    const link = net.addLink('l', 100 * MB);
    const next = () => start({ path: [link], bytes: 100 * MB, tag: 'second' });
    net.startFlow({ path: [link], bytes: 100 * MB, onDone: next });
    sim.run();
    expect(finishedAt.get('second')).toBe(2);
  });

  it('rejects malformed links and flows with a NetworkError', () => {
    const { net } = setup();
    const other = new Network(new Simulator()).addLink('x', 1);
    for (const cap of [0, -1, NaN, Infinity]) expect(() => net.addLink(`bad${cap}`, cap)).toThrow(NetworkError);
    const link = net.addLink('l', 100);
    expect(() => net.addLink('l', 100)).toThrow(/already exists/);
    const bad: [string, Partial<FlowSpec>, RegExp][] = [
      ['empty path', { path: [] }, /at least one link/],
      ['negative bytes', { bytes: -1 }, /bytes/],
      ['NaN bytes', { bytes: NaN }, /bytes/],
      ['negative latency', { latencyS: -1 }, /latencyS/],
      ['zero cap', { rateCap: 0 }, /rateCap/],
      ['foreign link', { path: [other] }, /does not belong/],
      ['repeated link', { path: [link, link] }, /twice/],
    ];
    for (const [, patch, message] of bad) {
      expect(() => net.startFlow({ path: [link], bytes: 1, ...patch })).toThrow(message);
    }
    expect(net.activeFlowCount).toBe(0);
  });
});

describe('accounting', () => {
  it('counts bytes carried and busy time per link, extrapolated between events', () => {
    // 100 MB on a 100 MB/s link: at 0.25 s, 25 MB carried, 75 MB to go; done at 1 s; idle until 2 s.
    // Utilisation over [0, 2] = 100 MB / (100 MB/s x 2 s) = 0.5; busy 1 s of 2.
    const { sim, net, start } = setup();
    const link: Link = net.addLink('l', 100 * MB);
    const f = start({ path: [link], bytes: 100 * MB, tag: 'a' });
    sim.at(0.25, () => {
      expect(link.bytesCarried).toBeCloseTo(25 * MB, 3);
      expect(link.busyTime).toBeCloseTo(0.25, 12);
      expect(f.remaining).toBeCloseTo(75 * MB, 3);
      expect(link.utilisation).toBeCloseTo(1, 12);
    });
    sim.run({ until: 2 });
    expect(link.bytesCarried).toBe(100 * MB);
    expect(link.busyTime).toBe(1);
    expect(link.utilisation).toBe(0.5);
    expect(link.allocated).toBe(0);
  });

  it('keeps one kernel event pending however many flows are in flight, and batches what starts at one instant', () => {
    const { sim, net, start } = setup();
    const link = net.addLink('l', 100 * MB);
    for (let i = 0; i < 1000; i++) start({ path: [link], bytes: (1 + (i % 7)) * MB, tag: `f${i}` });
    expect(sim.pending).toBe(1); // the end-of-instant recomputation
    sim.run({ maxEvents: 1 });
    expect(net.recomputations).toBe(1);
    expect(sim.pending).toBe(1); // the completion timer
    sim.run();
    // Seven sizes -> seven completion instants, each one recomputation.
    expect(net.recomputations).toBe(8);
    expect(net.activeFlowCount).toBe(0);
  });
});

describe('determinism', () => {
  function scenario(): number[] {
    const sim = new Simulator('net-determinism');
    const net = new Network(sim);
    const rng = sim.rng('flows');
    const fabric = net.addLink('fabric', 400 * MB);
    const rails = Array.from({ length: 8 }, (_, i) => net.addLink(`rail${i}`, 100 * MB));
    const flows: Flow[] = [];
    for (let i = 0; i < 300; i++) {
      sim.at(rng.uniform(0, 5), () => {
        const src = rails[rng.int(rails.length)]!;
        const dst = rails[rng.int(rails.length)]!;
        const path = src === dst ? [src, fabric] : [src, fabric, dst];
        flows.push(
          net.startFlow({
            path,
            bytes: rng.uniform(0, 50 * MB),
            latencyS: rng.bernoulli(0.5) ? rng.uniform(0, 1e-3) : 0,
            rateCap: rng.bernoulli(0.3) ? rng.uniform(5, 60) * MB : undefined,
          }),
        );
      });
    }
    sim.run();
    return flows.map((f) => f.finishedAt!);
  }

  it('the same scenario twice gives identical finish times', () => {
    const first = scenario();
    expect(first).toHaveLength(300);
    expect(first.every((t) => Number.isFinite(t))).toBe(true);
    expect(scenario()).toEqual(first);
  });
});
