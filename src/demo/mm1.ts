import { Simulator } from '../engine/index.js';

/** The classic single-server queue, used as the kernel's demo, its determinism check and its benchmark. */
export interface MM1Options {
  customers: number;
  /** Arrivals per second (lambda). */
  arrivalRate?: number;
  /** Services per second (mu). */
  serviceRate?: number;
  seed?: string | number;
}

export interface MM1Result {
  customers: number;
  simTimeS: number;
  meanWaitS: number;
  meanSojournS: number;
  utilisation: number;
  eventsRun: number;
}

/** M/M/1 FIFO queue on the kernel: Poisson arrivals, exponential service, one server. */
export function runMM1(options: MM1Options): MM1Result {
  const lambda = options.arrivalRate ?? 0.9;
  const mu = options.serviceRate ?? 1;
  const total = options.customers;
  const sim = new Simulator(options.seed ?? 1);
  const arrivals = sim.rng('arrivals');
  const service = sim.rng('service');

  // Arrival times of waiting customers, as a growable ring buffer.
  let ring = new Float64Array(1024);
  let head = 0;
  let count = 0;
  let busy = false;
  let busySince = 0;
  let busyTotal = 0;
  let generated = 0;
  let served = 0;
  let waitSum = 0;
  let sojournSum = 0;

  const startService = (arrivedAt: number): void => {
    busy = true;
    busySince = sim.now;
    waitSum += sim.now - arrivedAt;
    sim.schedule(service.exponential(mu), depart, arrivedAt);
  };
  const depart = (arrivedAt: number): void => {
    served++;
    sojournSum += sim.now - arrivedAt;
    busyTotal += sim.now - busySince;
    busy = false;
    if (count > 0) {
      const next = ring[head]!;
      head = (head + 1) & (ring.length - 1);
      count--;
      startService(next);
    }
  };
  const arrive = (): void => {
    generated++;
    if (generated < total) sim.schedule(arrivals.exponential(lambda), arrive);
    if (!busy) {
      startService(sim.now);
      return;
    }
    if (count === ring.length) {
      const bigger = new Float64Array(ring.length * 2);
      for (let i = 0; i < count; i++) bigger[i] = ring[(head + i) & (ring.length - 1)]!;
      ring = bigger;
      head = 0;
    }
    ring[(head + count) & (ring.length - 1)] = sim.now;
    count++;
  };

  if (total > 0) sim.schedule(arrivals.exponential(lambda), arrive);
  sim.run();
  return {
    customers: served,
    simTimeS: sim.now,
    meanWaitS: served ? waitSum / served : 0,
    meanSojournS: served ? sojournSum / served : 0,
    utilisation: sim.now > 0 ? busyTotal / sim.now : 0,
    eventsRun: sim.eventsRun,
  };
}
