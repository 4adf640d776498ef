import { describe, expect, it } from 'vitest';
import { RandomStream } from '../../src/engine/random.js';
import { UserError } from '../../src/errors.js';
import type { Workload } from '../../src/spec/experiment.js';
import { fitLengths, makeSource, type RequestSource, type RequestSpec } from '../../src/workload/index.js';

const BIG = { maxContext: 131072 };

function workload(over: Partial<Workload>): Workload {
  return {
    kind: 'closed-loop',
    concurrency: 4,
    requests: 10,
    warmup: 0,
    rate: 1,
    isl: { mean: 512, stddev: 0 },
    osl: { mean: 128, stddev: 0 },
    ...over,
  };
}

function streams(seed = 'test'): { lengths: RandomStream; arrivals: RandomStream } {
  return { lengths: new RandomStream(`${seed}:lengths`), arrivals: new RandomStream(`${seed}:arrivals`) };
}

function drain(src: RequestSource): RequestSpec[] {
  const out: RequestSpec[] = [];
  for (let r = src.next(); r !== null; r = src.next()) out.push(r);
  return out;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function sd(xs: number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

describe('closed-loop', () => {
  it('issues warmup + requests, the first `warmup` flagged, without arrival times', () => {
    const src = makeSource(workload({ warmup: 3, requests: 7 }), streams(), BIG);
    expect(src.total).toBe(10);
    const reqs = drain(src);
    expect(reqs).toHaveLength(10);
    expect(reqs.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(reqs.map((r) => r.id)).toEqual(reqs.map((_, i) => `req-${i}`));
    expect(reqs.map((r) => r.warmup)).toEqual([true, true, true, false, false, false, false, false, false, false]);
    expect(reqs.every((r) => r.arrivalS === undefined && r.hashIds === undefined)).toBe(true);
    expect(src.next()).toBeNull(); // stays exhausted
    expect(src.clamped).toBe(0);
  });

  it('can have no requests at all', () => {
    const src = makeSource(workload({ warmup: 0, requests: 0 }), streams(), BIG);
    expect(src.total).toBe(0);
    expect(src.next()).toBeNull();
  });
});

describe('poisson', () => {
  it('has exponential gaps of mean 1/rate, arrivals cumulative from 0', () => {
    // rate 5/s: mean gap 0.2 s. Over 20,000 gaps the standard error is 0.2/sqrt(20000) = 0.0014 s (0.7%), so 2% is
    // a loose bound; the seed is fixed, so the result is the same every run anyway.
    const n = 20_000;
    const src = makeSource(workload({ kind: 'poisson', rate: 5, warmup: 100, requests: n - 100 }), streams('poisson'), BIG);
    expect(src.total).toBe(n);
    const reqs = drain(src);
    expect(reqs).toHaveLength(n);
    const times = reqs.map((r) => r.arrivalS!);
    expect(times[0]).toBeGreaterThan(0); // the first arrival comes after one gap, not at 0
    const gaps = times.map((t, i) => t - (i === 0 ? 0 : times[i - 1]!));
    expect(gaps.every((g) => g >= 0)).toBe(true);
    expect(Math.abs(mean(gaps) - 0.2) / 0.2).toBeLessThan(0.02);
    // An exponential's sd equals its mean.
    expect(Math.abs(sd(gaps) - 0.2) / 0.2).toBeLessThan(0.03);
    expect(reqs.filter((r) => r.warmup)).toHaveLength(100);
    expect(reqs[99]!.warmup).toBe(true);
    expect(reqs[100]!.warmup).toBe(false);
  });

  it('draws the first gap from the arrivals stream', () => {
    const src = makeSource(workload({ kind: 'poisson', rate: 2, requests: 2 }), streams('gap'), BIG);
    const check = new RandomStream('gap:arrivals');
    const g0 = check.exponential(2);
    const g1 = check.exponential(2);
    const [a, b] = drain(src);
    expect(a!.arrivalS).toBe(g0);
    expect(b!.arrivalS).toBe(g0 + g1);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const w = workload({ kind: 'poisson', rate: 10, requests: 50, isl: { mean: 1000, stddev: 300 } });
    const a = drain(makeSource(w, streams('s1'), BIG));
    const b = drain(makeSource(w, streams('s1'), BIG));
    const c = drain(makeSource(w, streams('s2'), BIG));
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('keeps lengths independent of arrivals: the same lengths at any rate', () => {
    const lengthsAt = (rate: number): number[][] =>
      drain(makeSource(workload({ kind: 'poisson', rate, requests: 100, isl: { mean: 800, stddev: 200 }, osl: { mean: 100, stddev: 30 } }), streams('x'), BIG)).map((r) => [r.isl, r.osl]);
    expect(lengthsAt(1)).toEqual(lengthsAt(50));
  });

  it('rejects a rate that is not > 0', () => {
    expect(() => makeSource(workload({ kind: 'poisson', rate: 0 }), streams(), BIG)).toThrow(UserError);
    expect(() => makeSource(workload({ kind: 'poisson', rate: 0 }), streams(), BIG)).toThrow(/workload\.rate/);
  });
});

describe('lengths', () => {
  it('are fixed when stddev is 0, rounded, and draw nothing', () => {
    const rng = streams('fixed');
    const reqs = drain(makeSource(workload({ requests: 5, isl: { mean: 511.6, stddev: 0 }, osl: { mean: 128.4, stddev: 0 } }), rng, BIG));
    expect(reqs.map((r) => [r.isl, r.osl])).toEqual(Array(5).fill([512, 128]));
    // Untouched: the stream's next value is its first.
    expect(rng.lengths.next()).toBe(new RandomStream('fixed:lengths').next());
  });

  it('draw isl then osl, per request, from the lengths stream', () => {
    const isl = { mean: 1000, stddev: 100 };
    const osl = { mean: 200, stddev: 50 };
    const reqs = drain(makeSource(workload({ requests: 3, isl, osl }), streams('order'), BIG));
    const check = new RandomStream('order:lengths');
    for (const r of reqs) {
      expect(r.isl).toBe(Math.round(check.normal(1000, 100)));
      expect(r.osl).toBe(Math.round(check.normal(200, 50)));
    }
  });

  it('follow the normal distribution asked for', () => {
    // N(1000, 100) and N(300, 60), far from the clamps: over 20,000 draws the sample mean is within
    // 100/sqrt(20000) = 0.7 tokens of 1000 per standard error, and the sd within about 0.5% of 100.
    const reqs = drain(makeSource(workload({ requests: 20_000, isl: { mean: 1000, stddev: 100 }, osl: { mean: 300, stddev: 60 } }), streams('normal'), BIG));
    const isl = reqs.map((r) => r.isl);
    const osl = reqs.map((r) => r.osl);
    expect(Math.abs(mean(isl) - 1000)).toBeLessThan(5);
    expect(Math.abs(sd(isl) - 100) / 100).toBeLessThan(0.03);
    expect(Math.abs(mean(osl) - 300)).toBeLessThan(2);
    expect(Math.abs(sd(osl) - 60) / 60).toBeLessThan(0.03);
    expect(reqs.every((r) => Number.isInteger(r.isl) && Number.isInteger(r.osl))).toBe(true);
  });

  it('are at least 1: draws below 1 are raised and counted', () => {
    // N(2, 10): P(round(x) < 1) = P(x < 0.5) = P(z < -0.15) = 0.44, so about 880 of 2000 are clamped per length.
    const src = makeSource(workload({ requests: 2000, isl: { mean: 2, stddev: 10 }, osl: { mean: 2, stddev: 10 } }), streams('low'), BIG);
    const reqs = drain(src);
    expect(Math.min(...reqs.map((r) => r.isl))).toBe(1);
    expect(Math.min(...reqs.map((r) => r.osl))).toBe(1);
    // Either length below 1: 1 - 0.56^2 = 0.69 of requests.
    expect(src.clamped).toBeGreaterThan(1200);
    expect(src.clamped).toBeLessThan(1560);
  });

  it('fit the context: the prompt is cut to maxContext - osl', () => {
    // isl ~ N(4000, 2000), osl 100, context 4096: any isl over 4096 - 100 = 3996 becomes 3996. P(x >= 3996.5) ~ 0.5.
    const src = makeSource(workload({ requests: 1000, isl: { mean: 4000, stddev: 2000 }, osl: { mean: 100, stddev: 0 } }), streams('ctx'), { maxContext: 4096 });
    const reqs = drain(src);
    expect(reqs.every((r) => r.isl + r.osl <= 4096 && r.isl >= 1 && r.osl === 100)).toBe(true);
    expect(Math.max(...reqs.map((r) => r.isl))).toBe(3996);
    expect(src.clamped).toBeGreaterThan(400);
    expect(src.clamped).toBeLessThan(600);
  });

  it('fitLengths gives way on the prompt, keeping at least one token of each', () => {
    expect(fitLengths(100, 50, 4096)).toEqual({ isl: 100, osl: 50, changed: false });
    expect(fitLengths(5000, 50, 4096)).toEqual({ isl: 4046, osl: 50, changed: true });
    expect(fitLengths(0, 0, 4096)).toEqual({ isl: 1, osl: 1, changed: true });
    // An output as long as the context leaves one token for the prompt.
    expect(fitLengths(10, 5000, 4096)).toEqual({ isl: 1, osl: 4095, changed: true });
    expect(() => makeSource(workload({}), streams(), { maxContext: 1 })).toThrow(UserError);
  });
});
