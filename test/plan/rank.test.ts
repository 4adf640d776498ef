import { describe, expect, it } from 'vitest';
import { rank, verdictOf } from '../../src/plan/rank.js';
import type { PrunedEntry, RankedEntry } from '../../src/plan/types.js';

type Entry = Omit<RankedEntry, 'rank' | 'pareto'>;

/** A searched configuration with just what ranking reads. */
function entry(id: string, mode: 'aggregated' | 'disaggregated', maxRate: number, ttftP95Ms: number, gpusUsed = 8): Entry {
  return {
    id,
    label: `${mode} ${id}`,
    deployment: { mode, model: 'm', gpu: 'g', node: 'n', connector: 'c', transport: 't' },
    gpusUsed,
    maxRate,
    goodputPerGpu: maxRate / gpusUsed,
    ttftP95Ms,
    meetsSlo: maxRate > 0,
  } as Entry;
}

describe('ranking and the Pareto front', () => {
  it('orders by goodput per GPU, then lower TTFT p95; the front holds what nothing beats on both', () => {
    // Goodput per GPU: a 24/8 = 3 at 100 ms, b 32/8 = 4 at 200 ms, c 16/8 = 2 at 150 ms (a has more and is faster:
    // c is dominated), d 24/8 = 3 at 90 ms (ties a on goodput, faster: ranks above a and dominates it), e never met.
    const r = rank([entry('a', 'aggregated', 24, 100), entry('b', 'disaggregated', 32, 200), entry('c', 'aggregated', 16, 150), entry('d', 'disaggregated', 24, 90), entry('e', 'aggregated', 0, 900)]);
    expect(r.map((e) => [e.rank, e.id, e.pareto])).toEqual([
      [1, 'b', true],
      [2, 'd', true],
      [3, 'a', false],
      [4, 'c', false],
      [5, 'e', false],
    ]);
  });
});

describe('the verdict, aggregated against disaggregated', () => {
  it('the margin is the leader\'s goodput per GPU over the other\'s, - 1, as the text says it', () => {
    // 32/8 = 4 against 24/8 = 3: +33.3%.
    const v = verdictOf(rank([entry('a', 'aggregated', 24, 100), entry('b', 'disaggregated', 32, 200)]), 0.05);
    expect(v).toMatchObject({ winner: 'disaggregated', marginPct: 33.3 });
    expect(v.text).toBe('Disaggregated serving wins by 33.3% goodput per GPU: disaggregated b at 4.00 req/s per GPU against aggregated a at 3.00 req/s per GPU.');
    // Aggregated ahead: 3 / 2.4 = 1.25, so aggregated wins by 25.0%, and marginPct says 25 too.
    const w = verdictOf(rank([entry('a', 'aggregated', 24, 100), entry('b', 'disaggregated', 19.2, 200)]), 0.05);
    expect(w).toMatchObject({ winner: 'aggregated', marginPct: 25 });
    expect(w.text).toMatch(/^Aggregated serving wins by 25\.0% goodput per GPU/);
  });

  it('a margin under the search precision is a tie', () => {
    // 24.96 / 24 = 1.04: 4% < 5%.
    const v = verdictOf(rank([entry('a', 'aggregated', 24, 100), entry('b', 'disaggregated', 24.96, 200)]), 0.05);
    expect(v).toMatchObject({ winner: 'tie', marginPct: 4 });
  });

  it('says why a mode has nothing: all pruned, or none meeting the SLO', () => {
    const pruned = [{ deployment: { mode: 'disaggregated' }, rule: 'placement' }, { deployment: { mode: 'disaggregated' }, rule: 'placement' }] as PrunedEntry[];
    expect(verdictOf(rank([entry('a', 'aggregated', 24, 100)]), 0.05, pruned).text).toBe(
      'Only aggregated serving meets the SLO: aggregated a at 3.00 req/s per GPU; no disaggregated configuration can run (all 2 pruned: placement).',
    );
    expect(verdictOf(rank([entry('a', 'aggregated', 0, 100), entry('b', 'disaggregated', 0, 100)]), 0.05)).toMatchObject({
      winner: 'none',
      text: 'Nothing meets the SLO: no aggregated configuration meets it at any rate tried, and no disaggregated configuration meets it at any rate tried.',
    });
  });
});
