import { FieldError, type FieldPath, UserError } from '../errors.js';
import type { RandomStream } from '../engine/random.js';
import type { LengthDist } from '../spec/experiment.js';

export interface FittedLengths {
  isl: number;
  osl: number;
  /** True when either length differs from what was asked for. */
  changed: boolean;
}

/**
 * Makes a (prompt, output) pair valid for a model: both at least 1 token, and their sum within its context. The
 * prompt gives way rather than the output, because output length drives decode time, the thing most workloads
 * measure, and a prompt cut to fit is what a client truncating to the context window would send.
 */
export function fitLengths(isl: number, osl: number, maxContext: number): FittedLengths {
  const o = Math.min(Math.max(osl, 1), maxContext - 1);
  const i = Math.min(Math.max(isl, 1), maxContext - o);
  return { isl: i, osl: o, changed: i !== isl || o !== osl };
}

/** Draws a length, a whole number that may still be < 1 (fitLengths raises it). A fixed length draws nothing. */
export function drawLength(d: LengthDist, rng: RandomStream): number {
  return d.stddev === 0 ? Math.round(d.mean) : Math.round(rng.normal(d.mean, d.stddev));
}

export function checkMaxContext(maxContext: number): void {
  if (!Number.isInteger(maxContext) || maxContext < 2) {
    throw new UserError(`the model's max context must be a whole number >= 2 (a prompt token and an output token), got ${maxContext}`);
  }
}

export function checkLengthDist(d: LengthDist, field: FieldPath): void {
  if (!Number.isFinite(d.mean) || d.mean < 0) throw new FieldError([...field, 'mean'], `must be a number >= 0, got ${d.mean}`);
  if (!Number.isFinite(d.stddev) || d.stddev < 0) throw new FieldError([...field, 'stddev'], `must be a number >= 0, got ${d.stddev}`);
}
