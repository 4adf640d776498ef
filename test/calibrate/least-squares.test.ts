import { describe, expect, it } from 'vitest';
import { identifiability, levenbergMarquardt, solve } from '../../src/calibrate/least-squares.js';

describe('the small dense solver', () => {
  it('solves a 3 x 3 system worked by hand', () => {
    // 2x + y = 5, x + 3y + z = 7, y + 4z = 9  ->  x = 2, y = 1, z = 2 (2*2+1 = 5, 2+3+2 = 7, 1+8 = 9)
    const x = solve([[2, 1, 0], [1, 3, 1], [0, 1, 4]], [5, 7, 9]);
    expect(x[0]).toBeCloseTo(2, 12);
    expect(x[1]).toBeCloseTo(1, 12);
    expect(x[2]).toBeCloseTo(2, 12);
  });
});

describe('bounded Levenberg-Marquardt', () => {
  // y = a exp(-b t) sampled at t = 0..5 with a = 2, b = 0.5; relative residuals, as calibrate uses.
  const t = [0, 1, 2, 3, 4, 5];
  const y = t.map((v) => 2 * Math.exp(-0.5 * v));
  const residuals = (x: readonly number[]) => t.map((v, i) => (x[0]! * Math.exp(-x[1]! * v) - y[i]!) / y[i]!);

  it('recovers the parameters of noiseless data from a distant start', () => {
    const r = levenbergMarquardt({ params: [{ name: 'a', lo: 0.5, hi: 5, start: 4 }, { name: 'b', lo: 0.05, hi: 2, start: 1.5 }], residuals });
    expect(r.x[0]).toBeCloseTo(2, 4);
    expect(r.x[1]).toBeCloseTo(0.5, 4);
    expect(r.cost).toBeLessThan(1e-10);
  });

  it('stays inside the box: with b at most 0.3 the fit ends on that limit', () => {
    const r = levenbergMarquardt({ params: [{ name: 'a', lo: 0.5, hi: 5, start: 1 }, { name: 'b', lo: 0.05, hi: 0.3, start: 0.1 }], residuals });
    expect(r.x[1]).toBe(0.3);
    expect(r.x[0]).toBeGreaterThanOrEqual(0.5);
    expect(r.x[0]).toBeLessThanOrEqual(5);
  });
});

describe('identifiability', () => {
  it('too few measured values for the factors', () => {
    expect(identifiability([[1, 2, 3]], ['p', 'q', 'r'])).toBe('1 measured value cannot determine 3 factors (p, q, r)');
  });

  it('a factor no residual depends on (its Jacobian column ~0)', () => {
    expect(identifiability([[0.5, 0.001], [0.2, -0.002]], ['prefillCompute', 'decodeMemory'])).toMatch(/^decodeMemory: no measured value depends on it/);
  });

  it('two factors that move every residual alike (parallel columns)', () => {
    expect(identifiability([[1, 2], [0.5, 1.0001], [2, 4]], ['decodeMemory', 'stepOverheadS'])).toMatch(/^decodeMemory and stepOverheadS: every measured value moves with them alike/);
    expect(identifiability([[1, 2], [0.5, 0.2], [2, 4]], ['decodeMemory', 'stepOverheadS'])).toBeUndefined();
  });
});
