import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../src/errors.js';
import { RateSearch, roundRate, searchMaxRate } from '../../src/plan/search.js';

const rates = (r: { probes: { rate: number; pass: boolean }[] }) => r.probes.map((p) => `${p.rate}${p.pass ? '+' : '-'}`);

describe('the rate search: bracket, then bisect', () => {
  it('against a threshold at 37 req/s, from 10 with 5% precision', () => {
    // Up: 10 passes, 20 passes, 40 fails: bracket [20, 40]. Bisect: 30 passes, 35 passes, 37.5 fails, 36.25 passes;
    // (37.5 - 36.25) / 36.25 = 3.4% <= 5%: stop. The answer is the highest rate that passed.
    const r = searchMaxRate((rate) => rate <= 37, { startRate: 10, precision: 0.05 });
    expect(rates(r)).toEqual(['10+', '20+', '40-', '30+', '35+', '37.5-', '36.25+']);
    expect(r).toMatchObject({ maxRate: 36.25, failRate: 37.5, limit: null });
  });

  it('against a monotone latency curve: TTFT = 100 ms / (1 - rate / 50) with the SLO TTFT <= 400 ms', () => {
    // 100 / (1 - r / 50) <= 400  <=>  1 - r / 50 >= 0.25  <=>  r <= 37.5 (exact in binary, so 37.5 itself passes).
    // 10 (125 ms) +, 20 (167) +, 40 (500) -; bisect [20, 40]: 30 (250) +, 35 (333) +, 37.5 (400) +; 6.7% > 5%:
    // 38.75 (444) -; (38.75 - 37.5) / 37.5 = 3.3%: stop.
    const ttftMs = (rate: number) => (rate < 50 ? 100 / (1 - rate / 50) : Infinity);
    const r = searchMaxRate((rate) => ttftMs(rate) <= 400, { startRate: 10, precision: 0.05 });
    expect(rates(r)).toEqual(['10+', '20+', '40-', '30+', '35+', '37.5+', '38.75-']);
    expect(r.maxRate).toBe(37.5);
  });

  it('halves from a start above the answer, and keeps rates to 4 significant digits', () => {
    // 100 -, 50 -, 25 +: bracket [25, 50]; 37.5 -, 31.25 +, 34.375 -> 34.38 +, (37.5 - 34.38) / 34.38 = 9.1%:
    // (34.38 + 37.5) / 2 = 35.94 +, (37.5 - 35.94) / 35.94 = 4.3%: stop.
    const r = searchMaxRate((rate) => rate <= 37, { startRate: 100, precision: 0.05 });
    expect(rates(r)).toEqual(['100-', '50-', '25+', '37.5-', '31.25+', '34.38+', '35.94+']);
    expect(r.maxRate).toBe(35.94);
  });

  it('stops at its floor when nothing passes (maxRate 0) and at its ceiling when everything does', () => {
    // Floor: 1 / 2^3 = 0.125 is the lowest rate tried; the next halving, 0.0625, is below it.
    const never = searchMaxRate(() => false, { startRate: 1, precision: 0.05, maxSteps: 3 });
    expect(rates(never)).toEqual(['1-', '0.5-', '0.25-', '0.125-']);
    expect(never).toMatchObject({ maxRate: 0, failRate: 0.125, limit: 'floor' });
    // Ceiling: 1 x 2^3 = 8 is the highest; the next doubling, 16, is above it.
    const always = searchMaxRate(() => true, { startRate: 1, precision: 0.05, maxSteps: 3 });
    expect(rates(always)).toEqual(['1+', '2+', '4+', '8+']);
    expect(always).toMatchObject({ maxRate: 8, failRate: null, limit: 'ceiling' });
  });

  it('a coarser precision stops sooner', () => {
    // Bracket [20, 40] is 100% wide; with 50% precision one bisection (30 +, (40 - 30) / 30 = 33%) ends it.
    const r = searchMaxRate((rate) => rate <= 37, { startRate: 10, precision: 0.5 });
    expect(rates(r)).toEqual(['10+', '20+', '40-', '30+']);
  });

  it('is a state machine: next() repeats until recorded, and a probe it did not ask for is a bug', () => {
    const s = new RateSearch({ startRate: 3.14159, precision: 0.1 });
    expect(s.next()).toBe(3.142);
    expect(s.next()).toBe(3.142);
    expect(() => s.record(3.14159, true)).toThrow(InvariantError);
    s.record(3.142, true);
    expect(s.next()).toBe(6.284);
    expect(() => s.result()).toThrow(InvariantError);
  });

  it('roundRate keeps 4 significant digits', () => {
    expect([roundRate(1234.56), roundRate(0.0123456), roundRate(37.5)]).toEqual([1235, 0.01235, 37.5]);
  });
});
