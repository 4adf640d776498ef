/**
 * The regression gate's data: baselines (reports/baselines/<name>.json, committed), the comparison of a run's
 * summary against its baseline and against the experiment's `expect:` entries, and the table `nixlsim check` prints.
 *
 * A baseline holds, per point, the point's params and a few headline metrics (BASELINE_METRICS), rounded to
 * BASELINE_DECIMALS places, keys sorted, so that its bytes depend only on its numbers and a diff of one shows what
 * moved. A metric REGRESSES when it moved in its bad direction by more than BOTH its absolute and its relative
 * tolerance (a move within either is noise); a move as large in the good direction is 'improved', which does not fail.
 */
import { textTable } from './table.js';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { UserError } from '../errors.js';
import { canonicalJson } from '../spec/canonical.js';
import type { Expectation } from '../experiment/load.js';
import { METRIC_MAPS } from '../experiment/schema.js';
import type { PointResult } from '../spec/experiment.js';
import { valueAt } from '../experiment/yaml-errors.js';
import { JsonFile } from '../yaml/json-file.js';
import type { OutputFile } from '../spec/output.js';
import type { Summary } from '../spec/summary.js';

export const BASELINE_VERSION = 1;

/** Decimal places baselines keep (and current values are rounded to before comparing). */
export const BASELINE_DECIMALS = 3;

/** Default relative tolerance: 2% of the baseline value. */
export const DEFAULT_RELATIVE = 0.02;

export interface MetricSpec {
  /** Dotted path into a point of summary.json. */
  path: string;
  /** Which way is worse. */
  worse: 'higher' | 'lower';
  /** Absolute tolerance in the metric's unit. */
  absolute: number;
  unit: string;
  /** Kept and compared only for points whose result has this section (an extra such as autoscale); else for every point. */
  section?: 'autoscale';
}

/** The metrics a baseline keeps and check compares, in table order. */
export const BASELINE_METRICS: readonly MetricSpec[] = [
  { path: 'ttftMs.mean', worse: 'higher', absolute: 1, unit: 'ms' },
  { path: 'ttftMs.p50', worse: 'higher', absolute: 1, unit: 'ms' },
  { path: 'ttftMs.p95', worse: 'higher', absolute: 1, unit: 'ms' },
  { path: 'itlMs.mean', worse: 'higher', absolute: 1, unit: 'ms' },
  { path: 'e2eMs.p50', worse: 'higher', absolute: 1, unit: 'ms' },
  { path: 'throughput.outputTokensPerS', worse: 'lower', absolute: 0.5, unit: 'tok/s' },
  { path: 'requests.completed', worse: 'lower', absolute: 0, unit: 'requests' },
  { path: 'requests.failed', worse: 'higher', absolute: 0, unit: 'requests' },
  // Autoscaled points only, so the baselines of other experiments are unchanged.
  { path: 'autoscale.gpuHours', worse: 'higher', absolute: 0.01, unit: 'GPU-h', section: 'autoscale' },
  { path: 'autoscale.sloAttainment', worse: 'lower', absolute: 0.001, unit: 'share', section: 'autoscale' },
];

/** Whether a baseline keeps and compares `spec` for this point: always, or when the point has the metric's section. */
function kept(spec: MetricSpec, point: PointResult): boolean {
  return spec.section === undefined || point[spec.section] !== undefined;
}

export interface BaselinePoint {
  /** The point's swept values, as in summary.json: for the reader, and to match points when ids shift. */
  params: Record<string, unknown>;
  /** BASELINE_METRICS paths to values; null where the run had no number. */
  metrics: Record<string, number | null>;
}

export interface Baseline {
  baselineVersion: typeof BASELINE_VERSION;
  experiment: string;
  seed: number;
  /**
   * Relative tolerances by metric family, kept by hand in the file (check --update keeps them): e.g. { ttft: 0.05 }
   * holds TTFT metrics to 5%. `--tolerance` overrides them.
   */
  tolerances?: Partial<Record<MetricFamily, number>>;
  /** By point id. */
  points: Record<string, BaselinePoint>;
}

/** The families a tolerance can be given for: the first part of a metric path (ttftMs.p95 is ttft). */
export const METRIC_FAMILIES = ['ttft', 'itl', 'e2e', 'throughput', 'requests', 'autoscale'] as const;
export type MetricFamily = (typeof METRIC_FAMILIES)[number];

/** The family of a BASELINE_METRICS path. */
export function familyOf(path: string): MetricFamily {
  const head = path.split('.')[0]!.replace(/Ms$/, '');
  return (METRIC_FAMILIES as readonly string[]).includes(head) ? (head as MetricFamily) : 'requests';
}

const familyTolerances = z.strictObject(Object.fromEntries(METRIC_FAMILIES.map((f) => [f, z.number().positive().max(10).optional()])) as Record<MetricFamily, z.ZodOptional<z.ZodNumber>>);

const baselineSchema = z.object({
  baselineVersion: z.literal(BASELINE_VERSION),
  experiment: z.string(),
  seed: z.number(),
  tolerances: familyTolerances.optional(),
  points: z.record(z.string(), z.object({ params: z.record(z.string(), z.unknown()), metrics: z.record(z.string(), z.number().nullable()) })),
});

/** `x` rounded to BASELINE_DECIMALS places; null for no number (NaN, a missing metric). */
export function rounded(x: unknown): number | null {
  if (typeof x !== 'number' || !Number.isFinite(x)) return null;
  const f = 10 ** BASELINE_DECIMALS;
  const r = Math.round(x * f) / f;
  return r === 0 ? 0 : r; // no -0
}

/** The number at a dotted metric path of a point result; undefined when the point has no such number. */
export function metricValue(point: PointResult, path: string): number | undefined {
  // Keys of the maps may contain dots (the link decode-0.rank0.nic): the rest of the path after the map is one key.
  for (const map of METRIC_MAPS) {
    if (path.startsWith(`${map}.`)) {
      const m = valueAt(point, map.split('.')) as Record<string, unknown> | undefined;
      const v = m?.[path.slice(map.length + 1)];
      return typeof v === 'number' ? v : undefined;
    }
  }
  const v = valueAt(point, path.split('.'));
  return typeof v === 'number' ? v : undefined;
}

/** The baseline a summary gives (keeping the tolerances of the baseline it replaces, which only a person sets). */
export function baselineOf(summary: Summary, previous?: Baseline): Baseline {
  const points: Record<string, BaselinePoint> = {};
  for (const p of summary.points) {
    const specs = BASELINE_METRICS.filter((m) => kept(m, p));
    points[p.id] = { params: p.params, metrics: Object.fromEntries(specs.map((m) => [m.path, rounded(metricValue(p, m.path))])) };
  }
  return { baselineVersion: BASELINE_VERSION, experiment: summary.experiment, seed: summary.seed, ...(previous?.tolerances ? { tolerances: previous.tolerances } : {}), points };
}

/**
 * `--tolerance`: `5%` (every metric), `ttft=5%,itl=2%` (by family), or both (`3%,ttft=5%`); a fraction (0.05) is taken
 * as written. Families: ttft, itl, e2e, throughput, requests.
 */
export function parseTolerances(text: string): Tolerances {
  const out: Tolerances = {};
  const byFamily: Partial<Record<MetricFamily, number>> = {};
  const value = (v: string, what: string): number => {
    const t = v.trim();
    const pct = t.endsWith('%');
    const n = Number(pct ? t.slice(0, -1) : t);
    if (t === '' || t === '%' || !Number.isFinite(n) || n <= 0) throw new UserError(`--tolerance: ${what} must be a percentage > 0 (5%) or a fraction (0.05), got '${t}'`);
    const f = pct ? n / 100 : n;
    if (f > 10) throw new UserError(`--tolerance: ${what} of ${t} is more than 1000%`);
    return f;
  };
  for (const part of String(text).split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (out.relative !== undefined) throw new UserError(`--tolerance: two tolerances for every metric in '${text}'`);
      out.relative = value(part, 'the tolerance');
      continue;
    }
    const fam = part.slice(0, eq).trim();
    if (!(METRIC_FAMILIES as readonly string[]).includes(fam)) throw new UserError(`--tolerance: unknown metric family '${fam}' (families: ${METRIC_FAMILIES.join(', ')})`);
    if (byFamily[fam as MetricFamily] !== undefined) throw new UserError(`--tolerance: ${fam} is given twice in '${text}'`);
    byFamily[fam as MetricFamily] = value(part.slice(eq + 1), fam);
  }
  return { ...out, ...(Object.keys(byFamily).length ? { byFamily } : {}) };
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return typeof v === 'number' ? rounded(v) : v;
}

/** A baseline file's exact text: every key sorted, every number rounded, 2-space JSON, a final newline. */
export function baselineJson(b: Baseline): string {
  return `${JSON.stringify(sortKeys(b), null, 2)}\n`;
}

/**
 * Reads a baseline file; undefined when there is none. A file that is not a baseline is a UserError naming it, and
 * the line, column and field of the first thing wrong in it.
 */
export function readBaseline(file: string): Baseline | undefined {
  if (!existsSync(file)) return undefined;
  // Even --update does not write over a file it cannot read (a merge conflict, say): deleting it is the user's call.
  const regenerate = 'fix it, or delete it and run `nixlsim check --update` to write a new one';
  let j: JsonFile;
  try {
    j = new JsonFile(file, `baseline of version ${BASELINE_VERSION}`);
  } catch (err) {
    if (err instanceof UserError) throw new UserError(`${err.message}; ${regenerate}`);
    throw err;
  }
  const r = baselineSchema.safeParse(j.data);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = (issue?.path ?? []).map((p) => (typeof p === 'number' ? p : String(p)));
    throw j.error(path, `not a baseline of version ${BASELINE_VERSION} (${issue?.message ?? 'unexpected shape'}); ${regenerate}`);
  }
  return r.data as Baseline;
}

/** The file to write for a baseline, or undefined when the file already holds these bytes (nothing to rewrite). */
export function baselineOutput(file: string, b: Baseline): OutputFile | undefined {
  const text = baselineJson(b);
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return undefined;
  return { path: file, data: text };
}

// ---------------------------------------------------------------------------------------------------------------------
// Comparing

export type Verdict = 'ok' | 'improved' | 'REGRESSED' | 'no baseline' | 'expect ok' | 'EXPECT FAILED';

/** Verdicts that fail the check (a missing baseline only without --update). */
export const FAILING: readonly Verdict[] = ['REGRESSED', 'no baseline', 'EXPECT FAILED'];

export interface CheckRow {
  experiment: string;
  /** Point id. */
  point: string;
  params: Record<string, unknown>;
  metric: string;
  /** The baseline's value, or the expected value; null when there is none. */
  baseline: number | null;
  now: number | null;
  /** (now - baseline) / |baseline| x 100; null when undefined (no baseline, a zero baseline with a non-zero now). */
  deltaPct: number | null;
  verdict: Verdict;
  /** For an expectation: its tolerance as shown in the baseline column, e.g. `±10%`. */
  tolerance?: string;
  /** Why it failed, in a sentence (for the log and JUnit). */
  message?: string;
}

export interface Tolerances {
  /** Fraction of the baseline value; default DEFAULT_RELATIVE. */
  relative?: number;
  /** Fractions by metric family (`--tolerance ttft=5%`), over `relative` and the baseline file's. */
  byFamily?: Partial<Record<MetricFamily, number>>;
  /** Absolute tolerance per metric path; default each BASELINE_METRICS entry's. */
  absolute?: Record<string, number>;
}

function deltaPct(base: number | null, now: number | null): number | null {
  if (base === null || now === null) return null;
  if (base === 0) return now === 0 ? 0 : null;
  return ((now - base) / Math.abs(base)) * 100;
}

/** The verdict on one metric: how far it moved in its bad direction against both tolerances. */
export function judge(spec: MetricSpec, base: number | null, now: number | null, relative: number, absolute: number): { verdict: Verdict; message?: string } {
  if (base === null && now === null) return { verdict: 'ok' };
  if (base === null || now === null) {
    return { verdict: 'REGRESSED', message: `${spec.path} was ${base ?? 'no number'}, now ${now ?? 'no number'}` };
  }
  const worse = spec.worse === 'higher' ? now - base : base - now;
  const beyond = (d: number) => d > absolute && d > relative * Math.abs(base);
  const tol = `beyond both ${absolute} ${spec.unit} and ${relative * 100}%`;
  if (beyond(worse)) return { verdict: 'REGRESSED', message: `${spec.path} ${spec.worse === 'higher' ? 'rose' : 'fell'} from ${base} to ${now} ${spec.unit}, ${tol}` };
  if (beyond(-worse)) return { verdict: 'improved' };
  return { verdict: 'ok' };
}

/** `p003 isl.mean=8000 mode=aggregated` */
export const pointLabel = (id: string, params: Record<string, unknown>): string => `${id}${Object.keys(params).length ? ` ${paramText(params)}` : ''}`;
const label = pointLabel;

/**
 * One row per point and BASELINE_METRICS metric. A point is compared with the baseline point of its id when their
 * params agree, else with the baseline point whose params are its own (a sweep that grew shifts ids); with none,
 * 'no baseline'. Baseline points the run did not produce are returned apart (not failures: --update drops them).
 */
export function compareWithBaseline(summary: Summary, baseline: Baseline | undefined, tol: Tolerances = {}): { rows: CheckRow[]; gone: string[] } {
  // The flag's family tolerance, else the baseline file's, else the flag's (or the default) for every metric.
  const relativeFor = (path: string): number => tol.byFamily?.[familyOf(path)] ?? baseline?.tolerances?.[familyOf(path)] ?? tol.relative ?? DEFAULT_RELATIVE;
  const rows: CheckRow[] = [];
  const used = new Set<string>();
  const byParams = new Map(Object.entries(baseline?.points ?? {}).map(([id, p]) => [canonicalJson(p.params), id]));
  for (const p of summary.points) {
    const key = canonicalJson(p.params);
    const own = baseline?.points[p.id];
    const id = own && canonicalJson(own.params) === key ? p.id : byParams.get(key);
    const base = id !== undefined ? baseline?.points[id] : undefined;
    if (id !== undefined) used.add(id);
    for (const spec of BASELINE_METRICS) {
      // A section's metric that neither the point nor its baseline has (a run that does not autoscale) is not compared.
      if (!kept(spec, p) && !(base && spec.path in base.metrics)) continue;
      const now = rounded(metricValue(p, spec.path));
      const row = { experiment: summary.experiment, point: p.id, params: p.params, metric: spec.path, now };
      if (!base || !(spec.path in base.metrics)) {
        const message = !baseline ? 'no baseline file' : base ? `the baseline of this point has no ${spec.path}` : 'the baseline has no point with these params';
        rows.push({ ...row, baseline: null, deltaPct: null, verdict: 'no baseline', message });
        continue;
      }
      const was = base.metrics[spec.path] ?? null;
      const v = judge(spec, was, now, relativeFor(spec.path), tol.absolute?.[spec.path] ?? spec.absolute);
      rows.push({ ...row, baseline: was, deltaPct: deltaPct(was, now), ...v });
    }
  }
  const gone = Object.keys(baseline?.points ?? {}).filter((id) => !used.has(id));
  return { rows, gone };
}

/** `±10%`, `±20`, `±10% or ±20`. */
export function toleranceText(t: { relative?: number | undefined; absolute?: number | undefined }): string {
  const parts = [];
  if (t.relative !== undefined) parts.push(`±${Number((t.relative * 100).toPrecision(6))}%`);
  if (t.absolute !== undefined) parts.push(`±${t.absolute}`);
  return parts.join(' or ');
}

/** Whether `now` is within an expectation's tolerance of its value: either tolerance given suffices. */
export function withinTolerance(now: number, value: number, t: { relative?: number | undefined; absolute?: number | undefined }): boolean {
  const diff = Math.abs(now - value);
  const slack = (x: number) => x * (1 + 1e-12) + 1e-12; // 110 against 100 ±10% passes despite binary fractions
  return (t.absolute !== undefined && diff <= slack(t.absolute)) || (t.relative !== undefined && diff <= slack(t.relative * Math.abs(value)));
}

/** One row per expectation and point it applies to. */
export function compareWithExpectations(summary: Summary, expectations: Expectation[]): CheckRow[] {
  const rows: CheckRow[] = [];
  const byId = new Map(summary.points.map((p) => [p.id, p]));
  for (const e of expectations) {
    for (const id of e.points) {
      const p = byId.get(id);
      if (!p) continue;
      const got = metricValue(p, e.metric);
      const row = { experiment: summary.experiment, point: id, params: p.params, metric: e.metric, baseline: e.value, tolerance: toleranceText(e.tolerance) };
      const source = `(${e.source}; ${e.where})`;
      if (got === undefined) {
        rows.push({ ...row, now: null, deltaPct: null, verdict: 'EXPECT FAILED', message: `point ${label(id, p.params)} has ${valueAt(p, e.metric.split('.')) === null ? `no samples for ${e.metric} (null: no request completed, or no KV transfer)` : `no metric ${e.metric}`} ${source}` });
        continue;
      }
      const ok = withinTolerance(got, e.value, e.tolerance);
      rows.push({
        ...row,
        now: got,
        deltaPct: deltaPct(e.value, got),
        verdict: ok ? 'expect ok' : 'EXPECT FAILED',
        ...(ok ? {} : { message: `${e.metric} is ${got}, expected ${e.value} ${row.tolerance} ${source}` }),
      });
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------------
// The table

function valueText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** `isl.mean=8000 mode=aggregated`: swept values, `deployment.` and `workload.` left off (summary.json has them). */
export function paramText(params: Record<string, unknown>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k.replace(/^(deployment|workload)\./, '')}=${valueText(v)}`)
    .join(' ');
}

function num(x: number | null): string {
  if (x === null) return '-';
  return String(rounded(x));
}

function pct(x: number | null): string {
  if (x === null) return '-';
  const r = Math.round(x * 10) / 10;
  return `${r > 0 ? '+' : ''}${r === 0 ? '0.0' : r.toFixed(1)}%`;
}

export function formatRows(rows: CheckRow[]): string[] {
  const header = ['experiment', 'point', 'metric', 'baseline', 'now', 'delta', 'verdict'];
  const cells = rows.map((r) => [
    r.experiment,
    label(r.point, r.params),
    r.metric,
    r.tolerance ? `${num(r.baseline)} ${r.tolerance}` : num(r.baseline),
    num(r.now),
    pct(r.deltaPct),
    r.verdict,
  ]);
  const left = [true, true, true, false, false, false, true];
  return textTable(header, cells, (i) => left[i] === true);
}
