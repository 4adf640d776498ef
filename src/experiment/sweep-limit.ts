/**
 * How many points a sweep may expand to: MAX_POINTS unless `--max-points` says otherwise for this process (the CLI
 * sets it, runCli resets it). A module of its own, with no imports, so that the CLI can take the flag without loading
 * the experiment loader.
 */
import { UserError } from '../errors.js';

/** Most points a sweep may expand to by default: each is a simulation and a row of every output. */
export const MAX_POINTS = 100_000;
/** The most `--max-points` may allow: past it the point list alone (ids, params) would take gigabytes. */
export const MAX_POINTS_CEILING = 10_000_000;

let limit: number = MAX_POINTS;

/** The sweep size this process accepts. */
export function sweepLimit(): number {
  return limit;
}

/** `--max-points N` as given on the command line (text or number); undefined restores the default. */
export function setSweepLimit(given: unknown): void {
  if (given === undefined) {
    limit = MAX_POINTS;
    return;
  }
  const text = String(given).trim();
  const n = text === '' ? NaN : Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_POINTS_CEILING) {
    throw new UserError(`--max-points must be a whole number from 1 to ${MAX_POINTS_CEILING.toLocaleString('en-US')}, got '${text}'`);
  }
  limit = n;
}
