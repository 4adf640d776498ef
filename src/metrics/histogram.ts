import * as hdr from 'hdr-histogram-js';
import { InvariantError } from '../errors.js';
import type { MaybeStats, NoStats } from '../spec/experiment.js';

/** Microseconds: the resolution durations are recorded at. */
const US_PER_S = 1e6;
/** 10 hours in microseconds; no simulated latency should come near it, and longer ones are clamped and counted. */
export const HISTOGRAM_MAX_US = 3.6e10;

/**
 * Latency durations in constant memory: HdrHistogram buckets for the percentiles (3 significant digits, so a percentile
 * is within 0.1% of a recorded value), plus an exact count, sum, min and max kept beside it, because hdr's own mean
 * and extremes are bucketed and the summary's mean and extremes should match a plain calculation.
 */
export class LatencyHistogram {
  // The JS implementation needs no async WebAssembly init, and its arithmetic is the same on every platform.
  private readonly h = hdr.build({
    useWebAssembly: false,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HISTOGRAM_MAX_US,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 64,
  });
  private n = 0;
  // Neumaier-compensated sum, so the mean does not depend on how many values there are or the order shards merge in.
  private sum = 0;
  private comp = 0;
  private lo = Infinity;
  private hi = -Infinity;
  private over = 0;

  /** Values recorded. */
  get count(): number {
    return this.n;
  }

  /** Exact sum of the recorded durations, seconds. */
  get sumS(): number {
    return this.sum + this.comp;
  }

  /** Values above 10 h that were recorded in the histogram as 10 h (their exact value still counts in mean and max). */
  get overflowed(): number {
    return this.over;
  }

  /** Records one duration in seconds. */
  record(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new InvariantError(`latency histogram: a duration must be a finite number >= 0 seconds, got ${seconds}`);
    }
    let us = Math.round(seconds * US_PER_S);
    if (us > HISTOGRAM_MAX_US) {
      us = HISTOGRAM_MAX_US;
      this.over++;
    }
    this.h.recordValue(us);
    this.n++;
    this.addToSum(seconds, 0);
    if (seconds < this.lo) this.lo = seconds;
    if (seconds > this.hi) this.hi = seconds;
  }

  /** Adds everything `other` recorded (e.g. the histogram of another shard of the same run). */
  merge(other: LatencyHistogram): void {
    if (other === this) throw new InvariantError('latency histogram: cannot merge a histogram into itself');
    if (other.n === 0) return;
    this.h.add(other.h);
    this.n += other.n;
    this.addToSum(other.sum, other.comp);
    this.over += other.over;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
  }

  /**
   * The duration (seconds) at or below which `percentile` % of the values lie, to hdr's precision, and never outside
   * the exact min and max (hdr answers with the top of a bucket, which can lie above anything recorded). 0 when empty.
   */
  percentileS(percentile: number): number {
    if (this.n === 0) return 0;
    const v = this.h.getValueAtPercentile(percentile) / US_PER_S;
    return v < this.lo ? this.lo : v > this.hi ? this.hi : v;
  }

  /**
   * Mean, percentiles and extremes in milliseconds, each rounded to the microsecond so JSON output is stable; every
   * field null when nothing was recorded (no samples is not a latency of 0).
   */
  summary(): MaybeStats {
    if (this.n === 0) return NO_STATS;
    return {
      mean: toMs(this.sumS / this.n),
      p50: toMs(this.percentileS(50)),
      p90: toMs(this.percentileS(90)),
      p95: toMs(this.percentileS(95)),
      p99: toMs(this.percentileS(99)),
      min: toMs(this.lo),
      max: toMs(this.hi),
    };
  }

  private addToSum(x: number, xComp: number): void {
    const t = this.sum + x;
    this.comp += Math.abs(this.sum) >= Math.abs(x) ? this.sum - t + x : x - t + this.sum;
    this.comp += xComp;
    this.sum = t;
  }
}

/** The summary of an empty histogram. */
export const NO_STATS: NoStats = Object.freeze({ mean: null, p50: null, p90: null, p95: null, p99: null, min: null, max: null });

/** Seconds to milliseconds rounded to 3 decimals (whole microseconds); `+ 0` turns a -0 into 0 for JSON. */
function toMs(seconds: number): number {
  return Math.round(seconds * US_PER_S) / 1000 + 0;
}
