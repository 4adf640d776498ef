import { describe, expect, it } from 'vitest';
import { RandomStream } from '../../src/engine/random.js';
import { FieldError } from '../../src/errors.js';
import type { RateSpec, Workload } from '../../src/spec/experiment.js';
import { makeSource, type RequestSpec } from '../../src/workload/index.js';
import { diurnalAmplitude, nextArrival, rateProfile } from '../../src/workload/rate.js';

const BIG = { maxContext: 131072 };

function poisson(rate: RateSpec, requests: number): Workload {
  return { kind: 'poisson', concurrency: 1, requests, warmup: 0, rate, isl: { mean: 100, stddev: 0 }, osl: { mean: 10, stddev: 0 } };
}

function arrivals(rate: RateSpec, requests: number, seed = 's'): number[] {
  const src = makeSource(poisson(rate, requests), { lengths: new RandomStream(`${seed}:l`), arrivals: new RandomStream(`${seed}:a`) }, BIG);
  const out: number[] = [];
  for (let r: RequestSpec | null = src.next(); r !== null; r = src.next()) out.push(r.arrivalS!);
  return out;
}

const count = (xs: number[], lo: number, hi: number) => xs.filter((t) => t >= lo && t < hi).length;

describe('rate profiles', () => {
  it('steps hold from their start to the next one', () => {
    const p = rateProfile({ steps: [{ atS: 0, rate: 2 }, { atS: 100, rate: 6 }, { atS: 250, rate: 0 }] });
    expect([p.at(0), p.at(99.9), p.at(100), p.at(249), p.at(250), p.at(1e6)]).toEqual([2, 2, 6, 6, 0, 0]);
    expect(p.max).toBe(6);
    expect(p.endS).toBe(250);
  });

  it('a diurnal cycle peaks at peakAtS and troughs half a period later, in the ratio asked', () => {
    // peak/trough 3: a = (3 - 1) / (3 + 1) = 0.5, so peak 1.5 x mean = 6, trough 0.5 x mean = 2 at mean 4.
    expect(diurnalAmplitude(3)).toBe(0.5);
    const p = rateProfile({ diurnal: { meanRate: 4, peakToTrough: 3, periodS: 1000, peakAtS: 250 } });
    expect(p.at(250)).toBeCloseTo(6, 12);
    expect(p.at(750)).toBeCloseTo(2, 12);
    expect(p.at(500)).toBeCloseTo(4, 12); // a quarter period from the peak: the mean
    expect(p.max).toBe(6);
  });

  it('rejects steps out of order, not starting at 0, or all zero, naming the field', () => {
    const bad: [RateSpec, string][] = [
      [{ steps: [{ atS: 5, rate: 1 }] }, 'workload.rate.steps[0].atS'],
      [{ steps: [{ atS: 0, rate: 1 }, { atS: 0, rate: 2 }] }, 'workload.rate.steps[1].atS'],
      [{ steps: [{ atS: 0, rate: 0 }] }, 'workload.rate.steps'],
    ];
    for (const [spec, field] of bad) {
      let err: unknown;
      try {
        rateProfile(spec);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FieldError);
      expect((err as Error).message).toContain(field);
    }
  });
});

describe('non-homogeneous Poisson arrivals (thinning)', () => {
  it('two steps of 2 and 6 req/s for 100 s each bring 200 + 600 = 800 arrivals, each window its own integral', () => {
    // More requests than the 200 s hold; count the arrivals in each window. A Poisson count of mean m has sd sqrt(m):
    // 4 sd is 57 for 200, 98 for 600 and 113 for 800.
    const ts = arrivals({ steps: [{ atS: 0, rate: 2 }, { atS: 100, rate: 6 }, { atS: 200, rate: 0 }] }, 5000);
    expect(ts.length).toBeGreaterThan(800 - 113);
    expect(ts.length).toBeLessThan(800 + 113);
    expect(Math.abs(count(ts, 0, 100) - 200)).toBeLessThan(57);
    expect(Math.abs(count(ts, 100, 200) - 600)).toBeLessThan(98);
    expect(ts.every((t) => t < 200)).toBe(true); // rate 0 from 200 s on: the source ends there, short of 5000
    for (let i = 1; i < ts.length; i++) expect(ts[i]!).toBeGreaterThan(ts[i - 1]!);
  });

  it('the mean over many seeds is within 1% of the integral (a rate of 6 wrongly used throughout would give 1200)', () => {
    let total = 0;
    const seeds = 40;
    for (let s = 0; s < seeds; s++) total += arrivals({ steps: [{ atS: 0, rate: 2 }, { atS: 100, rate: 6 }, { atS: 200, rate: 0 }] }, 5000, `seed${s}`).length;
    // 40 x 800 = 32,000 expected, sd sqrt(32,000) = 179 (0.56%): within 1% is over 1.7 sd.
    expect(Math.abs(total / seeds - 800)).toBeLessThan(8);
  });

  it('a diurnal day brings meanRate x period arrivals, and more in the peak half than the trough half', () => {
    // mean 2 req/s over 1000 s: 2000. Peak at 0, ratio 3 (a = 0.5): rate(t) = 2 (1 + 0.5 cos(2 pi t / 1000)). The half
    // around the peak, [0, 250) + [750, 1000), gets 2 x (500 + 0.5 x (1000 / 2 pi) x 2) = 2 x (500 + 159.15) = 1318.3.
    const ts = arrivals({ diurnal: { meanRate: 2, peakToTrough: 3, periodS: 1000, peakAtS: 0 } }, 2400).filter((t) => t < 1000);
    expect(Math.abs(ts.length - 2000)).toBeLessThan(4 * Math.sqrt(2000));
    const peak = count(ts, 0, 250) + count(ts, 750, 1000);
    expect(Math.abs(peak - 1318.3)).toBeLessThan(4 * Math.sqrt(1318.3));
  });

  it('is deterministic by seed, and a constant rate draws exactly as before (one exponential gap per arrival)', () => {
    const spec: RateSpec = { diurnal: { meanRate: 3, peakToTrough: 4, periodS: 600, peakAtS: 100 } };
    expect(arrivals(spec, 300, 'x')).toEqual(arrivals(spec, 300, 'x'));
    expect(arrivals(spec, 300, 'x')).not.toEqual(arrivals(spec, 300, 'y'));
    const rng = new RandomStream('c');
    let t = 0;
    const expected: number[] = [];
    for (let i = 0; i < 50; i++) expected.push((t += rng.exponential(2.5)));
    expect(arrivals(2.5, 50, 'c')).toHaveLength(50);
    const same = new RandomStream('c');
    let u = 0;
    const got: number[] = [];
    for (let i = 0; i < 50; i++) got.push((u = nextArrival(rateProfile(2.5), u, same)));
    expect(got).toEqual(expected);
  });
});
