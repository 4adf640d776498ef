/**
 * The search for a configuration's maximum request rate that meets the SLO: bracket, then bisect.
 *
 * From a start rate, double while the probe passes (or halve while it fails) until one passing and one failing rate
 * bracket the boundary; then probe the middle of the bracket until it is narrower than `precision` of its lower end.
 * The answer is the highest rate that passed, so the true maximum lies in [maxRate, maxRate x (1 + precision)) when
 * meeting the SLO is monotone in the rate (it is, up to noise: every probe uses the same seed, so a higher rate sends
 * the same requests with arrival gaps scaled down). Rates are kept to 4 significant digits, so the probe sequence is
 * a fixed function of the start rate and the pass/fail answers: the same inputs probe the same rates every time.
 *
 * A RateSearch is a state machine (next, record) so that the planner can advance many searches in rounds, simulating
 * one probe of each on the worker pool at a time; searchMaxRate drives one search with a function (tests).
 */
import { InvariantError } from '../errors.js';

export interface SearchOptions {
  /** The first rate probed, requests per second. */
  startRate: number;
  /** Stop when (hi - lo) / lo <= precision (e.g. 0.05 for 5%). */
  precision: number;
  /** Doublings (or halvings) allowed from the start before giving up on a bracket; default 10 (a factor of 1024). */
  maxSteps?: number;
}

export interface Probe {
  rate: number;
  pass: boolean;
}

export interface SearchResult {
  /** The highest rate that passed; 0 when none did. */
  maxRate: number;
  /** The lowest rate that failed above maxRate; null when none did (the search hit its ceiling). */
  failRate: number | null;
  /** Every probe, in the order made. */
  probes: Probe[];
  /** 'ceiling': it passed up to startRate x 2^maxSteps; 'floor': it failed down to startRate / 2^maxSteps. */
  limit: 'ceiling' | 'floor' | null;
}

export const DEFAULT_MAX_STEPS = 10;

/** x to 4 significant digits (0.01234, 12.35, 1235): rates a reader can repeat, and a fixed probe sequence. */
export function roundRate(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) throw new InvariantError(`a rate must be a finite number > 0, got ${x}`);
  return Number(x.toPrecision(4));
}

export class RateSearch {
  private readonly opts: Required<SearchOptions>;
  private readonly probes: Probe[] = [];
  /** Highest passing and lowest failing rates so far. */
  private lo: number | undefined;
  private hi: number | undefined;
  private pending: number | undefined;
  private limit: 'ceiling' | 'floor' | null = null;
  private finished = false;

  constructor(opts: SearchOptions) {
    if (!(opts.precision > 0)) throw new InvariantError(`search precision must be > 0, got ${opts.precision}`);
    this.opts = { maxSteps: DEFAULT_MAX_STEPS, ...opts, startRate: roundRate(opts.startRate) };
    this.pending = this.opts.startRate;
  }

  /** The rate to probe next, or undefined when the search is over. Asking twice gives the same rate. */
  next(): number | undefined {
    return this.finished ? undefined : this.pending;
  }

  /** The outcome of probing the rate next() gave. */
  record(rate: number, pass: boolean): void {
    if (this.finished || rate !== this.pending) throw new InvariantError(`recorded rate ${rate}, but the search asked for ${this.pending ?? 'nothing'}`);
    this.probes.push({ rate, pass });
    if (pass) this.lo = Math.max(this.lo ?? 0, rate);
    else this.hi = Math.min(this.hi ?? Infinity, rate);
    this.pending = this.choose();
    if (this.pending === undefined) this.finished = true;
  }

  private choose(): number | undefined {
    const { startRate, maxSteps, precision } = this.opts;
    const { lo, hi } = this;
    if (hi === undefined) {
      // Still passing: double, up to the ceiling.
      const up = roundRate(lo! * 2);
      if (up > startRate * 2 ** maxSteps) {
        this.limit = 'ceiling';
        return undefined;
      }
      return up;
    }
    if (lo === undefined) {
      // Still failing: halve, down to the floor.
      const down = roundRate(hi / 2);
      if (down < startRate / 2 ** maxSteps) {
        this.limit = 'floor';
        return undefined;
      }
      return down;
    }
    if ((hi - lo) / lo <= precision) return undefined;
    const mid = roundRate((lo + hi) / 2);
    // Rounding can land on an end of a bracket narrower than 4 digits resolve; it is then as narrow as it gets.
    return mid > lo && mid < hi ? mid : undefined;
  }

  result(): SearchResult {
    if (!this.finished) throw new InvariantError('the search has not finished');
    return { maxRate: this.lo ?? 0, failRate: this.hi ?? null, probes: [...this.probes], limit: this.limit };
  }
}

/** Runs one search to the end, asking `passes` at each probe. */
export function searchMaxRate(passes: (rate: number) => boolean, opts: SearchOptions): SearchResult {
  const s = new RateSearch(opts);
  for (let rate = s.next(); rate !== undefined; rate = s.next()) s.record(rate, passes(rate));
  return s.result();
}
