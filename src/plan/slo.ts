/**
 * Service-level objectives for the planner: `--slo ttft_p95_ms<=2000,itl_p95_ms<=50`. Each term bounds one latency
 * statistic of a point's measured requests (the summary.json fields ttftMs, itlMs, e2eMs); a probe meets the SLO when
 * every term holds and every measured request completed.
 */
import { closest } from '../catalog/suggest.js';
import { quoted, UserError } from '../errors.js';
import type { MaybeStats, PointResult } from '../spec/experiment.js';
import { num } from '../report/table.js';

export const SLO_METRICS = ['ttft', 'itl', 'e2e'] as const;
export const SLO_STATS = ['p50', 'p90', 'p95', 'p99', 'mean'] as const;
export type SloMetric = (typeof SLO_METRICS)[number];
export type SloStat = (typeof SLO_STATS)[number];

export interface SloTerm {
  metric: SloMetric;
  stat: SloStat;
  /** The bound, milliseconds: the statistic must be <= it. */
  maxMs: number;
  /** The term as the user would write it, canonical: `ttft_p95_ms<=2000`. */
  text: string;
}

/** The PointResult field a metric reads. */
export const METRIC_FIELD: Record<SloMetric, 'ttftMs' | 'itlMs' | 'e2eMs'> = { ttft: 'ttftMs', itl: 'itlMs', e2e: 'e2eMs' };

const GRAMMAR = `<metric>_<stat>_ms<=<value> with metric ${SLO_METRICS.join('|')} and stat ${SLO_STATS.join('|')}, e.g. ttft_p95_ms<=2000`;

function bad(term: string, why: string): UserError {
  return new UserError(`--slo: '${term}': ${why}`);
}

function oneTerm(raw: string): SloTerm {
  const term = raw.trim();
  const at = term.indexOf('<=');
  if (at < 0) throw bad(term, `expected ${GRAMMAR}`);
  const name = term.slice(0, at).trim();
  const valueText = term.slice(at + 2).trim();
  const parts = name.split('_');
  if (parts.length !== 3 || parts[2] !== 'ms') throw bad(term, `expected ${GRAMMAR}`);
  const [metric, stat] = parts as [string, string];
  if (!(SLO_METRICS as readonly string[]).includes(metric)) {
    const guess = closest(metric, SLO_METRICS);
    throw bad(term, `unknown metric ${quoted(metric)}${guess ? `; did you mean '${guess}'?` : ''} (metrics: ${SLO_METRICS.join(', ')})`);
  }
  if (!(SLO_STATS as readonly string[]).includes(stat)) {
    const guess = closest(stat, SLO_STATS);
    throw bad(term, `unknown statistic ${quoted(stat)}${guess ? `; did you mean '${guess}'?` : ''} (statistics: ${SLO_STATS.join(', ')})`);
  }
  const value = Number(valueText);
  if (valueText === '' || !Number.isFinite(value) || value <= 0) throw bad(term, `the bound must be a number of milliseconds > 0, got '${valueText}'`);
  return { metric: metric as SloMetric, stat: stat as SloStat, maxMs: value, text: `${metric}_${stat}_ms<=${value}` };
}

/**
 * Parses the --slo flag: comma-separated terms, each at most once. At least one term must bound a latency that
 * includes queueing (TTFT or end-to-end): ITL alone stays bounded however far the offered rate outruns the
 * deployment (requests queue before they start), so it would have no maximum rate.
 */
export function parseSlo(text: string): SloTerm[] {
  const s = String(text).trim();
  if (s === '') throw new UserError(`--slo: expected one or more comma-separated terms ${GRAMMAR}`);
  const terms = s.split(',').map(oneTerm);
  const seen = new Set<string>();
  for (const t of terms) {
    const k = `${t.metric}_${t.stat}`;
    if (seen.has(k)) throw bad(t.text, `${k}_ms is bounded twice; give each statistic once`);
    seen.add(k);
  }
  if (!terms.some((t) => t.metric !== 'itl')) {
    throw new UserError(
      `--slo: '${s}' bounds only ITL, which leaves out queueing: every rate would pass; add a ttft or e2e term (e.g. ttft_p95_ms<=2000)`,
    );
  }
  return terms;
}

export function sloText(terms: readonly SloTerm[]): string {
  return terms.map((t) => t.text).join(',');
}

/** The statistic a term reads from a point's result, milliseconds; null when the point had no samples of it. */
export function termValue(r: PointResult, t: SloTerm): number | null {
  const stats: MaybeStats = r[METRIC_FIELD[t.metric]];
  return stats[t.stat];
}

export interface SloCheck {
  pass: boolean;
  /** What broke, one phrase each: `ttft_p95_ms 2450 > 2000`, `3 of 200 requests failed`. */
  violations: string[];
  /** The SLO terms that broke (a subset of the terms, in their order). */
  broken: SloTerm[];
}

/** Milliseconds as the plan's texts give them: 2450, 48.3, 7.25 (the tables' num: the same rounding). */
export const ms: (x: number) => string = num;

/**
 * Whether a probe meets the SLO: every term holds over the measured requests, and every one of them completed (a
 * failed request, or one still running at the horizon, is not served within any latency).
 */
export function checkSlo(r: PointResult, terms: readonly SloTerm[]): SloCheck {
  const violations: string[] = [];
  const broken: SloTerm[] = [];
  const q = r.requests;
  if (q.completed === 0) violations.push('no request completed');
  if (q.failed > 0) violations.push(`${q.failed} of ${q.total} requests failed`);
  if (q.inFlight > 0) violations.push(`${q.inFlight} of ${q.total} requests still running at the horizon`);
  for (const t of terms) {
    const v = termValue(r, t);
    // No samples (no request completed, none streamed two tokens) meets no latency bound.
    if (v === null || !(v <= t.maxMs)) {
      violations.push(v === null ? `${t.metric}_${t.stat}_ms: no samples` : `${t.metric}_${t.stat}_ms ${ms(v)} > ${t.maxMs}`);
      broken.push(t);
    }
  }
  return { pass: violations.length === 0, violations, broken };
}
