import { describe, expect, it } from 'vitest';
import { RandomStreams, Simulator } from '../../src/engine/index.js';

const draw = (streams: RandomStreams, name: string, n: number): number[] =>
  Array.from({ length: n }, () => streams.get(name).next());

describe('named random streams', () => {
  it('gives the same values for the same seed and name', () => {
    expect(draw(new RandomStreams(42), 'arrivals', 20)).toEqual(draw(new RandomStreams(42), 'arrivals', 20));
  });

  it('gives different values for another seed or another name', () => {
    const a = draw(new RandomStreams(42), 'arrivals', 5);
    expect(draw(new RandomStreams(43), 'arrivals', 5)).not.toEqual(a);
    expect(draw(new RandomStreams(42), 'lengths', 5)).not.toEqual(a);
  });

  it('adding a stream, and drawing from it, never changes what an existing stream draws', () => {
    const alone = new RandomStreams(7);
    const expected = draw(alone, 'arrivals', 50);

    const crowded = new RandomStreams(7);
    const got: number[] = [];
    for (let i = 0; i < 50; i++) {
      got.push(crowded.get('arrivals').next());
      crowded.get(`extra-${i % 3}`).next(); // new streams appear and are used in between
      crowded.get('faults').normal(0, 1);
    }
    expect(got).toEqual(expected);
  });

  it('returns the same stream object for the same name', () => {
    const sim = new Simulator(1);
    expect(sim.rng('x')).toBe(sim.rng('x'));
  });
});

describe('stream helpers', () => {
  const s = new RandomStreams('helpers');

  it('uniform(lo, hi) stays in [lo, hi)', () => {
    for (let i = 0; i < 10_000; i++) {
      const x = s.get('u').uniform(3, 5);
      expect(x).toBeGreaterThanOrEqual(3);
      expect(x).toBeLessThan(5);
    }
  });

  it('exponential(rate) has mean 1/rate (rate 4: mean 0.25, within 2% over 200k draws)', () => {
    // Standard error of the mean is (1/rate)/sqrt(n) = 0.25/447 = 0.00056, i.e. 0.22%: 2% is many sigmas.
    let sum = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) sum += s.get('e').exponential(4);
    expect(sum / n).toBeGreaterThan(0.245);
    expect(sum / n).toBeLessThan(0.255);
  });

  it('normal(mean, sd) has that mean and sd, and clamps to [min, max]', () => {
    const n = 200_000;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const x = s.get('n').normal(100, 15);
      sum += x;
      sq += x * x;
    }
    const mean = sum / n;
    const sd = Math.sqrt(sq / n - mean * mean);
    expect(Math.abs(mean - 100)).toBeLessThan(0.5); // se = 15/447 = 0.034
    expect(Math.abs(sd - 15)).toBeLessThan(0.3);
    for (let i = 0; i < 10_000; i++) {
      const x = s.get('c').normal(0, 10, -1, 2);
      expect(x).toBeGreaterThanOrEqual(-1);
      expect(x).toBeLessThanOrEqual(2);
    }
  });

  it('choice picks every element of a list, and rejects an empty list', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(s.get('ch').choice(['a', 'b', 'c']));
    expect([...seen].sort()).toEqual(['a', 'b', 'c']);
    expect(() => s.get('ch').choice([])).toThrow(/empty/);
  });
});
