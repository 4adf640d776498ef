import { createRequire } from 'node:module';

/**
 * The same M/M/1 as src/demo/mm1.ts, written against simjs 2.0.3 (a peer DES library for JavaScript), so that both
 * run in one process and their speeds compare as a ratio. simjs only publishes itself on `window`, hence the shim.
 */
// simjs ships no types.
type Simjs = any; // eslint-disable-line @typescript-eslint/no-explicit-any

let simjs: Simjs | undefined;

function loadSimjs(): Simjs {
  if (simjs) return simjs;
  const g = globalThis as Record<string, unknown>;
  if (g.window === undefined) g.window = globalThis;
  createRequire(import.meta.url)('simjs');
  simjs = g.Sim;
  if (!simjs) throw new Error('simjs did not expose globalThis.Sim');
  return simjs;
}

export function runSimjsMM1(customers: number, seed = 1, lambda = 0.9, mu = 1): { customers: number; meanSojournS: number } {
  const Sim = loadSimjs();
  const sim = new Sim.Sim();
  const server = new Sim.Facility('server');
  const rand = new Sim.Random(seed);
  let generated = 0;
  let served = 0;
  let sojournSum = 0;

  class Source extends Sim.Entity {
    start(): void {
      this.setTimer(rand.exponential(lambda)).done(this.arrive, this);
    }
    arrive(): void {
      generated++;
      const arrivedAt: number = this.time();
      this.useFacility(server, rand.exponential(mu)).done(() => {
        served++;
        sojournSum += this.time() - arrivedAt;
      });
      if (generated < customers) this.setTimer(rand.exponential(lambda)).done(this.arrive, this);
    }
  }
  sim.addEntity(Source);
  sim.simulate(Infinity);
  return { customers: served, meanSojournS: served ? sojournSum / served : 0 };
}
