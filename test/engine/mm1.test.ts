import { describe, expect, it } from 'vitest';
import { runMM1 } from '../../src/demo/mm1.js';

describe('M/M/1 on the kernel', () => {
  it('is deterministic: one seed gives identical output twice, another seed gives different output', () => {
    const a = runMM1({ customers: 20_000, seed: 11 });
    const b = runMM1({ customers: 20_000, seed: 11 });
    const c = runMM1({ customers: 20_000, seed: 12 });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(c.meanSojournS).not.toBe(a.meanSojournS);
  });

  it('matches queueing theory at rho = 0.9: W = 1/(mu - lambda) = 10 s, Wq = rho/(mu - lambda) = 9 s, U = 0.9', () => {
    // At rho = 0.9 the sample mean converges slowly (strong autocorrelation); 400k customers land within a few %.
    const r = runMM1({ customers: 400_000, arrivalRate: 0.9, serviceRate: 1, seed: 3 });
    expect(r.customers).toBe(400_000);
    expect(r.meanSojournS).toBeGreaterThan(9);
    expect(r.meanSojournS).toBeLessThan(11);
    expect(r.meanWaitS).toBeGreaterThan(8);
    expect(r.meanWaitS).toBeLessThan(10);
    expect(r.utilisation).toBeGreaterThan(0.88);
    expect(r.utilisation).toBeLessThan(0.92);
    // Every customer is one arrival and one departure event.
    expect(r.eventsRun).toBe(800_000);
  });

  it('at low load waiting vanishes: rho = 0.1 gives W = 1/(1 - 0.1) = 1.11 s', () => {
    const r = runMM1({ customers: 200_000, arrivalRate: 0.1, serviceRate: 1, seed: 5 });
    expect(r.meanSojournS).toBeGreaterThan(1.07);
    expect(r.meanSojournS).toBeLessThan(1.15);
  });
});
