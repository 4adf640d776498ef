import { FieldError } from '../errors.js';
import type { RandomStream } from '../engine/random.js';
import type { RateSpec } from '../spec/experiment.js';

/**
 * An open-loop arrival rate as a function of simulated time (requests per second): a constant, piecewise steps, or a
 * diurnal cosine. Arrivals at a rate that changes are a non-homogeneous Poisson process, drawn by thinning (Lewis and
 * Shedler, 1979): candidates come at the highest rate the profile reaches, and a candidate at time t is kept with
 * probability rate(t) / max. Both draws come from the workload's arrivals stream, so a seed gives the same arrivals.
 */
export interface RateProfile {
  /** Requests per second at time t (seconds, >= 0). */
  at(t: number): number;
  /** The highest rate the profile reaches: the candidates' rate. */
  readonly max: number;
  /** True for a constant rate (arrivals are then drawn as before: one exponential gap each, no thinning draw). */
  readonly constant: boolean;
  /** From this time on the rate is 0 for good (steps ending at 0), so no arrival ever comes; absent: never. */
  readonly endS?: number;
}

/** The amplitude a of rate(t) = mean (1 + a cos(...)) for a peak-to-trough ratio r = (1 + a) / (1 - a). */
export function diurnalAmplitude(peakToTrough: number): number {
  return (peakToTrough - 1) / (peakToTrough + 1);
}

/** The profile of a workload.rate, checked (the schema checks the same; this guards programmatic callers). */
export function rateProfile(spec: RateSpec): RateProfile {
  if (typeof spec === 'number') {
    if (!(Number.isFinite(spec) && spec > 0)) throw new FieldError(['workload', 'rate'], `must be a number of requests per second > 0 for a poisson workload, got ${spec}`);
    return { at: () => spec, max: spec, constant: true };
  }
  if ('steps' in spec) {
    const steps = spec.steps;
    if (steps.length === 0) throw new FieldError(['workload', 'rate', 'steps'], 'expected at least one step');
    if (steps[0]!.atS !== 0) throw new FieldError(['workload', 'rate', 'steps', 0, 'atS'], `the first step must start at 0 s, got ${steps[0]!.atS}`);
    for (let i = 1; i < steps.length; i++) {
      if (!(steps[i]!.atS > steps[i - 1]!.atS)) {
        throw new FieldError(['workload', 'rate', 'steps', i, 'atS'], `steps must start in increasing order: ${steps[i]!.atS} s does not come after ${steps[i - 1]!.atS} s`);
      }
    }
    const max = Math.max(...steps.map((s) => s.rate));
    if (!(max > 0)) throw new FieldError(['workload', 'rate', 'steps'], 'at least one step must have a rate > 0');
    const times = steps.map((s) => s.atS);
    const rates = steps.map((s) => s.rate);
    const last = steps[steps.length - 1]!;
    return {
      max,
      constant: false,
      ...(last.rate === 0 ? { endS: last.atS } : {}),
      at(t: number): number {
        // The last step that has started (few steps: a linear scan from the end).
        let i = times.length - 1;
        while (i > 0 && times[i]! > t) i--;
        return rates[i]!;
      },
    };
  }
  const d = spec.diurnal;
  const a = diurnalAmplitude(d.peakToTrough);
  const w = (2 * Math.PI) / d.periodS;
  return {
    max: d.meanRate * (1 + a),
    constant: a === 0,
    at: (t: number) => d.meanRate * (1 + a * Math.cos(w * (t - d.peakAtS))),
  };
}

/**
 * The next arrival after `now` under the profile, drawn from `rng` (thinning; a constant rate: one exponential gap);
 * Infinity when the rate has dropped to 0 for good.
 */
export function nextArrival(p: RateProfile, now: number, rng: RandomStream): number {
  if (p.constant) return now + rng.exponential(p.max);
  let t = now;
  for (;;) {
    t += rng.exponential(p.max);
    if (p.endS !== undefined && t >= p.endS) return Infinity;
    if (rng.next() * p.max < p.at(t)) return t;
  }
}
