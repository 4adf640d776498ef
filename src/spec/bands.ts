/**
 * Uncertainty bands of a point: the p5, p50 and p95 over its Monte Carlo samples (each a full simulation with the
 * catalog's uncertain figures drawn from their ranges, see uncertainty.ts) of the numbers a capacity planner reads:
 * TTFT mean, p50 and p95, ITL mean and p50, output tokens/s and the mean KV transfer time. They sit next to the
 * point's nominal numbers in summary.json as an extra field, `bands`; the nominal run stays the point's result.
 */
import type { PointResult } from './experiment.js';

/** Three percentiles of one number over the samples. */
export interface Band {
  p5: number;
  p50: number;
  p95: number;
}

/** A point's bands; a band is null when no sample had the number (no completed request, no KV transfer). */
export interface PointBands {
  /** Monte Carlo samples simulated for the point. */
  samples: number;
  /** The parameters drawn (uncertainty.ts names), in draw order. */
  varied: string[];
  /** Samples in which some request fell back to prefilling on decode (its KV outlasted the abort timeout). */
  fellBackSamples: number;
  /** Over samples that completed requests: the bands of the point's TTFT mean, p50 and p95. */
  ttftMs: { mean: Band | null; p50: Band | null; p95: Band | null };
  /** Over samples that completed requests: ITL mean and p50. */
  itlMs: { mean: Band | null; p50: Band | null };
  /** Over every sample (none completed: 0 tok/s). */
  outputTokensPerS: Band;
  /** Over samples with KV transfers: the mean transfer time. */
  kvTransferMs: { mean: Band | null };
}

/**
 * The q-quantile (0..1) of ascending values by linear interpolation between order statistics (Hyndman and Fan's
 * type 7, numpy's default): h = (n - 1) q, between values floor(h) and ceil(h).
 */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Rounded like the summary's other numbers: whole nanoseconds of a millisecond, a millionth of a token/s. */
export const round = (x: number): number => Math.round(x * 1e6) / 1e6 + 0;

export function band(values: readonly number[]): Band | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return { p5: round(quantile(s, 0.05)), p50: round(quantile(s, 0.5)), p95: round(quantile(s, 0.95)) };
}

/** The bands of a point from its samples' results. */
export function pointBands(samples: readonly PointResult[], varied: readonly string[]): PointBands {
  // A sample without the number (none completed, no KV transfer: null in its summary) is left out of that band.
  const of = (rs: readonly PointResult[], f: (r: PointResult) => number | null) => band(rs.map(f).filter((x): x is number => x !== null));
  return {
    samples: samples.length,
    varied: [...varied],
    fellBackSamples: samples.filter((r) => r.requests.fellBack > 0).length,
    ttftMs: { mean: of(samples, (r) => r.ttftMs.mean), p50: of(samples, (r) => r.ttftMs.p50), p95: of(samples, (r) => r.ttftMs.p95) },
    itlMs: { mean: of(samples, (r) => r.itlMs.mean), p50: of(samples, (r) => r.itlMs.p50) },
    outputTokensPerS: of(samples, (r) => r.throughput.outputTokensPerS) ?? { p5: 0, p50: 0, p95: 0 },
    kvTransferMs: { mean: of(samples, (r) => r.kvTransfer.ms.mean) },
  };
}
