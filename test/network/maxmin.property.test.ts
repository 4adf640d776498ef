import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Simulator } from '../../src/engine/index.js';
import { Network, type Flow, type Link } from '../../src/network/index.js';

const MB = 1e6;
const REL = 1e-9;

interface FlowPlan {
  path: number[];
  bytes: number;
  startAt: number;
  latencyS: number;
  rateCap: number | null;
  cancelAt: number | null;
}

const scenario = fc.integer({ min: 1, max: 5 }).chain((nLinks) =>
  fc.record({
    capacities: fc.array(fc.integer({ min: 1, max: 100 }), { minLength: nLinks, maxLength: nLinks }),
    flows: fc.array(
      fc.record<FlowPlan>({
        path: fc.uniqueArray(fc.integer({ min: 0, max: nLinks - 1 }), { minLength: 1, maxLength: nLinks }),
        bytes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 200 })),
        startAt: fc.constantFrom(0, 0, 0.5, 1.3),
        latencyS: fc.constantFrom(0, 0, 0.25, 1),
        rateCap: fc.option(fc.integer({ min: 1, max: 100 })),
        cancelAt: fc.option(fc.constantFrom(0.2, 0.7, 2, 5), { freq: 4 }),
      }),
      { minLength: 1, maxLength: 10 },
    ),
  }),
);

/**
 * Max-min fairness, checked from its definition rather than by re-running the algorithm: rates are feasible (no link
 * over capacity) and every flow is bottlenecked, i.e. it could only go faster by slowing a flow that is no faster.
 */
function checkRates(net: Network): void {
  const moving = net.activeFlows.filter((f) => f.state === 'moving');
  const sums = new Map<Link, number>();
  const maxRate = new Map<Link, number>();
  for (const f of moving) {
    expect(f.rate).toBeGreaterThan(0);
    for (const link of f.path) {
      sums.set(link, (sums.get(link) ?? 0) + f.rate);
      maxRate.set(link, Math.max(maxRate.get(link) ?? 0, f.rate));
    }
  }
  for (const link of net.links) {
    const sum = sums.get(link) ?? 0;
    expect(sum).toBeLessThanOrEqual(link.capacity * (1 + REL));
    expect(Math.abs(link.allocated - sum)).toBeLessThanOrEqual(link.capacity * REL);
    expect(link.flowCount).toBe(moving.filter((f) => f.path.includes(link)).length);
  }
  for (const f of moving) {
    const atCap = f.rateCap !== undefined && Math.abs(f.rate - f.rateCap) <= f.rateCap * REL;
    const bottleneck = f.path.some(
      (link) =>
        (sums.get(link) ?? 0) >= link.capacity * (1 - REL) && f.rate >= maxRate.get(link)! - link.capacity * REL,
    );
    expect(atCap || bottleneck, `flow ${f.id} at ${f.rate} is not bottlenecked`).toBe(true);
    if (f.rateCap !== undefined) expect(f.rate).toBeLessThanOrEqual(f.rateCap * (1 + REL));
  }
}

function run(plan: { capacities: number[]; flows: FlowPlan[] }) {
  const sim = new Simulator(7);
  const net = new Network(sim, { onRecompute: checkRates });
  const links = plan.capacities.map((c, i) => net.addLink(`L${i}`, c * MB));
  const flows: { flow: Flow; plan: FlowPlan; doneCalls: number }[] = [];
  for (const p of plan.flows) {
    sim.at(p.startAt, () => {
      const entry = { flow: undefined as unknown as Flow, plan: p, doneCalls: 0 };
      entry.flow = net.startFlow({
        path: p.path.map((i) => links[i]!),
        bytes: p.bytes * MB,
        latencyS: p.latencyS,
        rateCap: p.rateCap === null ? undefined : p.rateCap * MB,
        onDone: () => entry.doneCalls++,
      });
      flows.push(entry);
      if (p.cancelAt !== null) sim.at(p.startAt + p.cancelAt, () => net.cancelFlow(entry.flow));
    });
  }
  sim.run();
  return { net, links, flows };
}

describe('max-min sharing (property)', () => {
  it('keeps every recomputation feasible and max-min fair, and conserves bytes', () => {
    fc.assert(
      fc.property(scenario, (plan) => {
        const { net, links, flows } = run(plan);
        expect(net.activeFlowCount).toBe(0);
        for (const { flow, doneCalls } of flows) {
          if (flow.state === 'done') {
            expect(doneCalls).toBe(1);
            // Nothing moves faster than its slowest link or its cap.
            const fastest = Math.min(...flow.path.map((l) => l.capacity), flow.rateCap ?? Infinity);
            expect(flow.finishedAt!).toBeGreaterThanOrEqual(flow.startedAt + (flow.bytes / fastest) * (1 - 1e-9));
          } else {
            expect(flow.state).toBe('cancelled');
            expect(doneCalls).toBe(0);
          }
        }
        // A link carried exactly the bytes of the finished flows that crossed it, plus what cancelled ones had moved.
        for (const link of links) {
          let expected = 0;
          for (const { flow } of flows) {
            if (!flow.path.includes(link)) continue;
            expected += flow.state === 'done' ? flow.bytes : flow.bytes - flow.remaining;
          }
          expect(Math.abs(link.bytesCarried - expected)).toBeLessThanOrEqual(Math.max(expected * 1e-9, 1e-3));
          expect(link.busyTime).toBeLessThanOrEqual(net.sim.now + 1e-12);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('one link is work-conserving and shares like a processor-sharing server', () => {
    // Flows all starting at 0 with no latency or cap keep the link saturated until the last byte: the last one ends
    // at (sum of bytes) / capacity, which is also the busy time.
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 12 }), (sizes) => {
        const sim = new Simulator();
        let recomputations = 0;
        const net = new Network(sim, {
          onRecompute: (n) => {
            checkRates(n);
            recomputations++;
          },
        });
        const link = net.addLink('l', 10 * MB);
        const flows = sizes.map((s) => net.startFlow({ path: [link], bytes: s * MB }));
        sim.run();
        const total = sizes.reduce((a, b) => a + b, 0) * MB;
        const last = Math.max(...flows.map((f) => f.finishedAt!));
        expect(last).toBeCloseTo(total / (10 * MB), 9);
        expect(link.busyTime).toBeCloseTo(total / (10 * MB), 9);
        expect(link.bytesCarried).toBeCloseTo(total, 3);
        expect(recomputations).toBe(net.recomputations); // the hook saw every recomputation
        expect(recomputations).toBeGreaterThanOrEqual(2);
        // Processor sharing on one link: smaller flows never finish after bigger ones.
        for (let i = 0; i < sizes.length; i++) {
          for (let j = 0; j < sizes.length; j++) {
            if (sizes[i]! < sizes[j]!) expect(flows[i]!.finishedAt!).toBeLessThanOrEqual(flows[j]!.finishedAt!);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
