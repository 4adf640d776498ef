/**
 * Chart data from a summary's points: which params a sweep varied, how to name a point, and the rows each chart kind
 * plots. Pure functions of their inputs; the spec builders in kinds.ts turn the rows into Vega-Lite.
 */
import { defaultCatalog, firstNodeOffering, getConnector, getGpu, getLlm, getNode, getTransport, nodeOffers } from '../../catalog/index.js';
import { connectorsByRelease, originalAbortTimeoutS } from '../../catalog/vllm.js';
import type { Catalog, ExpiryModel, NodeSpec, Placement, TransportSpec } from '../../spec/catalog.js';
import { UserError } from '../../errors.js';
import type { Band } from '../../spec/bands.js';
import type { SensitivityResult } from '../../experiment/sensitivity.js';
import type { PointResult } from '../../spec/experiment.js';
import { handshakeMatrix, type Outcome } from '../../nixl/compat.js';
import { estimateTransfer } from '../../physics/estimate.js';
import { nixlbenchRows } from '../../physics/nixlbench.js';
import type { Summary } from '../../spec/summary.js';
import { sizeText } from '../table.js';

export const ISL = 'workload.isl.mean';
export const TRANSPORT = 'deployment.transport';
export const MODE = 'deployment.mode';
export const CONNECTOR = 'deployment.connector';

/** Names a reader knows a swept path by; anything else goes by its path without the deployment./workload. prefix. */
const PARAM_NAMES: Record<string, string> = {
  [ISL]: 'ISL',
  'workload.osl.mean': 'OSL',
  'workload.concurrency': 'concurrency',
  'workload.rate': 'rate',
};

/** Paths whose values name themselves (a transport id, a mode): shown bare in labels. */
const SELF_NAMED = new Set([TRANSPORT, MODE, CONNECTOR, 'deployment.node', 'deployment.model', 'deployment.gpu', 'deployment.router']);

export function paramName(path: string): string {
  return PARAM_NAMES[path] ?? path.replace(/^(deployment|workload)\./, '');
}

function valueText(v: unknown): string {
  if (typeof v === 'number') return v.toLocaleString('en-US', { maximumFractionDigits: 6 });
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** `ib-rdma`, `ISL 40,000`, `prefill.tp 4`: one param as a label shows it. */
export function paramText(path: string, v: unknown): string {
  return SELF_NAMED.has(path) ? valueText(v) : `${paramName(path)} ${valueText(v)}`;
}

/** A point's label from some of its params, in the order given: `ib-rdma, ISL 40,000`. */
export function labelOf(p: PointResult, paths: readonly string[]): string {
  return paths.map((k) => paramText(k, p.params[k])).join(', ');
}

/** Values compare as their JSON text (params may be lists or maps). */
const key = (v: unknown): string => JSON.stringify(v) ?? 'undefined';

/** The swept paths, in the order of the first point's params (sweep order). */
export function sweptPaths(summary: Summary): string[] {
  const seen = new Set<string>();
  for (const p of summary.points) for (const k of Object.keys(p.params)) seen.add(k);
  return [...seen];
}

export function sweeps(summary: Summary, ...paths: string[]): boolean {
  const swept = sweptPaths(summary);
  return paths.every((p) => swept.includes(p));
}

/** Distinct values of a param over the points, in first-seen order. */
export function valuesOf(points: readonly PointResult[], path: string): unknown[] {
  const out = new Map<string, unknown>();
  for (const p of points) if (!out.has(key(p.params[path]))) out.set(key(p.params[path]), p.params[path]);
  return [...out.values()];
}

/** Whether every value of `by` goes with one value of `path` (a zip partner such as the node of a transport). */
function determinedBy(points: readonly PointResult[], path: string, by: readonly string[]): boolean {
  const seen = new Map<string, string>();
  for (const p of points) {
    const k = key(by.map((b) => p.params[b]));
    const v = key(p.params[path]);
    const was = seen.get(k);
    if (was !== undefined && was !== v) return false;
    seen.set(k, v);
  }
  return true;
}

/**
 * The params that tell points apart besides `exclude` (the x axis): swept paths, minus those that never vary and
 * those a kept path determines (a node zipped with its transport says nothing the transport does not). `first` come
 * first when swept.
 */
export function distinguishing(points: readonly PointResult[], exclude: readonly string[], first: readonly string[] = []): string[] {
  const all = new Set<string>();
  for (const p of points) for (const k of Object.keys(p.params)) if (!exclude.includes(k)) all.add(k);
  const ordered = [...first.filter((k) => all.has(k)), ...[...all].filter((k) => !first.includes(k))];
  const kept: string[] = [];
  for (const k of ordered) {
    if (valuesOf(points, k).length < 2) continue;
    if (kept.length > 0 && determinedBy(points, k, kept)) continue;
    kept.push(k);
  }
  return kept;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** A statistic of a point's latency summary when it had samples (summary metrics with no samples are null). */
export function stat(s: unknown, key: 'mean' | 'p50' | 'p90' | 'p95' | 'p99' | 'min' | 'max'): number | undefined {
  return s !== null && typeof s === 'object' ? num((s as Record<string, unknown>)[key]) : undefined;
}

/** A point's mean KV transfer time in ms, when some transfer completed. */
function kvMeanMs(p: PointResult): number | undefined {
  const ms = stat(p.kvTransfer?.ms, 'mean');
  return ms !== undefined && ms > 0 && (num(p.kvTransfer.bytesMean) ?? 0) > 0 ? ms : undefined;
}

/** A point's mean TTFT in ms, when some request completed. */
function ttftMeanMs(p: PointResult): number | undefined {
  const ms = stat(p.ttftMs, 'mean');
  return p.requests.completed > 0 && ms !== undefined && ms > 0 ? ms : undefined;
}

// ---------------------------------------------------------------------------------------------------------------------
// The abort / lease line

/** One line a chart draws for how long prefill keeps unread KV: an abort timeout, or a lease. */
export interface ExpiryLine {
  /** Where the line goes, seconds: the abort timeout, or the lease's length. */
  s: number;
  kind: ExpiryModel['kind'];
  /** The connector profiles whose points have it, in first-seen order. */
  connectors: string[];
  label: string;
}

/**
 * How long a point's prefill keeps KV nobody read, and under which profile: the `expiry` the simulator records with
 * each point; for summaries written before it, the swept connector's profile, else vLLM's original abort timeout
 * (originalAbortTimeoutS, from the catalog; connector 'assumed').
 */
export function pointExpiry(p: PointResult, catalog?: Catalog): { connector: string; expiry: ExpiryModel } {
  const e = (p as { expiry?: ({ connector: string } & ExpiryModel) | undefined }).expiry;
  if (e && (e.kind === 'abort-timeout' || e.kind === 'lease')) {
    const { connector, ...expiry } = e;
    return { connector, expiry: expiry as ExpiryModel };
  }
  const id = p.params[CONNECTOR];
  if (typeof id === 'string' && catalog?.connectors.has(id)) return { connector: id, expiry: getConnector(catalog, id).expiry };
  return { connector: 'assumed', expiry: { kind: 'abort-timeout', timeoutS: originalAbortTimeoutS(catalog ?? defaultCatalog()) } };
}

/** Seconds the expiry holds unread KV: the abort timeout, or the lease's length. */
export function expirySeconds(e: ExpiryModel): number {
  return e.kind === 'abort-timeout' ? e.timeoutS : e.leaseS;
}

/** One line per distinct expiry among the points (by kind and seconds), ordered by seconds, each labelled. */
export function expiryLines(points: readonly PointResult[], catalog?: Catalog): ExpiryLine[] {
  const lines = new Map<string, ExpiryLine & { heartbeatS?: number }>();
  for (const p of points) {
    const { connector, expiry } = pointExpiry(p, catalog);
    const s = expirySeconds(expiry);
    const k = `${expiry.kind}:${s}`;
    const line = lines.get(k) ?? { s, kind: expiry.kind, connectors: [], label: '', ...(expiry.kind === 'lease' ? { heartbeatS: expiry.heartbeatS } : {}) };
    if (!line.connectors.includes(connector)) line.connectors.push(connector);
    lines.set(k, line);
  }
  return [...lines.values()]
    .sort((a, b) => a.s - b.s || (a.kind < b.kind ? -1 : 1))
    .map(({ heartbeatS, ...l }) => {
      const who = l.connectors.filter((c) => c !== 'assumed');
      const tail = who.length ? `, ${who.join(', ')}` : ', assumed';
      const label =
        l.kind === 'abort-timeout'
          ? `vLLM abort timeout (${fmtS(l.s)} s${tail})`
          : `KV lease (${fmtS(l.s)} s, renewed every ${fmtS(heartbeatS ?? 0)} s while decode lives${tail})`;
      return { ...l, label };
    });
}

const fmtS = (s: number): string => s.toLocaleString('en-US', { maximumFractionDigits: 3 });

/** What tells the series of an ISL chart apart, as a legend title: `transport`, or `mode` for a breakeven sweep. */
export function seriesTitle(summary: Summary): string {
  const pts = summary.points.filter((p) => num(p.params[ISL]) !== undefined);
  return distinguishing(pts, [ISL], [TRANSPORT]).map(paramName).join(', ') || 'series';
}

// ---------------------------------------------------------------------------------------------------------------------
// ttft-vs-isl

export interface TtftRow {
  isl: number;
  /** The transport, with any other distinguishing params. */
  series: string;
  stat: 'mean' | 'p95';
  ttftS: number;
  fellBack: number;
  completed: number;
  /** With uncertainty bands (run --uncertainty): the p5 and p95 of this statistic over the samples, seconds. */
  loS?: number;
  hiS?: number;
}

/** A band's p5 and p95 in seconds as row fields, when the point has that band. */
function bandFields(b: Band | null | undefined, lo: string, hi: string): Record<string, number> {
  return b ? { [lo]: b.p5 / 1000, [hi]: b.p95 / 1000 } : {};
}

/** Monte Carlo samples behind the summary's bands (the first banded point's count), 0 without bands. */
export function bandSamples(summary: Summary): number {
  return summary.points.find((p) => p.bands !== undefined)?.bands?.samples ?? 0;
}

/** Mean and p95 TTFT by ISL and series, from points that completed requests (with their bands, when run with them). */
export function ttftVsIslRows(summary: Summary): TtftRow[] {
  const pts = summary.points.filter((p) => num(p.params[ISL]) !== undefined && ttftMeanMs(p) !== undefined);
  const series = distinguishing(pts, [ISL], [TRANSPORT]);
  const rows: TtftRow[] = [];
  for (const p of pts) {
    const base = { isl: num(p.params[ISL])!, series: labelOf(p, series) || 'all', fellBack: p.requests.fellBack, completed: p.requests.completed };
    rows.push({ ...base, stat: 'mean', ttftS: ttftMeanMs(p)! / 1000, ...bandFields(p.bands?.ttftMs.mean, 'loS', 'hiS') });
    rows.push({ ...base, stat: 'p95', ttftS: (stat(p.ttftMs, 'p95') ?? ttftMeanMs(p)!) / 1000, ...bandFields(p.bands?.ttftMs.p95, 'loS', 'hiS') });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------------
// breakeven

export interface BreakevenRow {
  isl: number;
  /** Other distinguishing params ('' when the sweep is ISL x mode only). */
  group: string;
  aggTokS: number;
  disaggTokS: number;
  aggItlMs: number;
  disaggItlMs: number;
  /** disaggregated / aggregated output tokens per second: above 1, disaggregated serves more. */
  throughputRatio: number;
  /** disaggregated / aggregated mean ITL: below 1, disaggregated decodes faster. */
  itlRatio: number;
  /** TTFT p50 / p95 and ITL p95 of each mode, ms. */
  aggTtftP50Ms: number;
  aggTtftP95Ms: number;
  disaggTtftP50Ms: number;
  disaggTtftP95Ms: number;
  aggItlP95Ms: number;
  disaggItlP95Ms: number;
  /**
   * Goodput per GPU of the best configuration of each mode (req/s per GPU within an SLO; 0 when none meets it), when
   * the break-even ran with an SLO (`breakeven --slo`).
   */
  aggGoodputPerGpu?: number;
  disaggGoodputPerGpu?: number;
}

/** One row per ISL (and group) where both modes ran and the aggregated side produced tokens, ordered by ISL. */
export function breakevenRows(summary: Summary): BreakevenRow[] {
  const pts = summary.points.filter((p) => num(p.params[ISL]) !== undefined && (p.params[MODE] === 'aggregated' || p.params[MODE] === 'disaggregated'));
  const groupPaths = distinguishing(pts, [ISL, MODE]);
  const pairs = new Map<string, { isl: number; group: string; agg?: PointResult; disagg?: PointResult }>();
  for (const p of pts) {
    const isl = num(p.params[ISL])!;
    const group = labelOf(p, groupPaths);
    const k = `${group}\u0000${isl}`;
    const pair = pairs.get(k) ?? { isl, group };
    if (p.params[MODE] === 'aggregated') pair.agg ??= p;
    else pair.disagg ??= p;
    pairs.set(k, pair);
  }
  const rows: BreakevenRow[] = [];
  for (const { isl, group, agg, disagg } of pairs.values()) {
    if (!agg || !disagg) continue;
    const aggTokS = agg.throughput.outputTokensPerS;
    const disaggTokS = disagg.throughput.outputTokensPerS;
    const aggItlMs = stat(agg.itlMs, 'mean') ?? Number.NaN;
    const disaggItlMs = stat(disagg.itlMs, 'mean') ?? Number.NaN;
    if (!(aggTokS > 0)) continue;
    rows.push({
      isl,
      group,
      aggTokS,
      disaggTokS,
      aggItlMs,
      disaggItlMs,
      throughputRatio: disaggTokS / aggTokS,
      itlRatio: aggItlMs > 0 && disaggItlMs > 0 ? disaggItlMs / aggItlMs : Number.NaN,
      aggTtftP50Ms: stat(agg.ttftMs, 'p50') ?? Number.NaN,
      aggTtftP95Ms: stat(agg.ttftMs, 'p95') ?? Number.NaN,
      disaggTtftP50Ms: stat(disagg.ttftMs, 'p50') ?? Number.NaN,
      disaggTtftP95Ms: stat(disagg.ttftMs, 'p95') ?? Number.NaN,
      aggItlP95Ms: stat(agg.itlMs, 'p95') ?? Number.NaN,
      disaggItlP95Ms: stat(disagg.itlMs, 'p95') ?? Number.NaN,
    });
  }
  return rows.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : a.isl - b.isl));
}

/** The first ISL (ascending) where disaggregated output tok/s exceeds aggregated; null if it never does. */
export function crossoverIsl(rows: readonly Pick<BreakevenRow, 'isl' | 'aggTokS' | 'disaggTokS'>[]): number | null {
  const sorted = [...rows].sort((a, b) => a.isl - b.isl);
  return sorted.find((r) => r.disaggTokS > r.aggTokS)?.isl ?? null;
}

/** What a break-even crossover is computed on; throughput higher is better, the latencies lower. */
export const CROSSOVER_METRICS = ['throughput', 'ttft_p95', 'itl_p95', 'itl_mean', 'goodput'] as const;
export type CrossoverMetric = (typeof CROSSOVER_METRICS)[number];

export interface Crossover {
  metric: CrossoverMetric;
  /** Where the lead changes hands, interpolated linearly between the two ISLs around it. */
  isl: number;
  /** Who leads from there on. */
  direction: 'disaggregated-ahead' | 'aggregated-ahead';
}

/** How far disaggregated leads at a row on a metric (> 0: ahead, < 0: behind), in the metric's unit. */
export function lead(r: BreakevenRow, metric: CrossoverMetric): number {
  switch (metric) {
    case 'throughput':
      return r.disaggTokS - r.aggTokS;
    case 'ttft_p95':
      return r.aggTtftP95Ms - r.disaggTtftP95Ms;
    case 'itl_p95':
      return r.aggItlP95Ms - r.disaggItlP95Ms;
    case 'itl_mean':
      return r.aggItlMs - r.disaggItlMs;
    case 'goodput':
      // NaN without an SLO: no crossover is computed on it.
      return (r.disaggGoodputPerGpu ?? NaN) - (r.aggGoodputPerGpu ?? NaN);
  }
}

/**
 * Every change of lead between consecutive ISLs (ascending) on a metric, each at the ISL where the lead is zero by
 * linear interpolation (exactly at a row where it is zero). None when one mode leads throughout.
 */
export function crossovers(rows: readonly BreakevenRow[], metric: CrossoverMetric): Crossover[] {
  const sorted = [...rows].filter((r) => Number.isFinite(lead(r, metric))).sort((a, b) => a.isl - b.isl);
  const out: Crossover[] = [];
  let prev: { isl: number; d: number } | undefined;
  for (const r of sorted) {
    const d = lead(r, metric);
    if (d === 0) continue; // a tie decides nothing; the next row with a lead does
    if (prev !== undefined && Math.sign(d) !== Math.sign(prev.d)) {
      const isl = prev.isl + ((r.isl - prev.isl) * prev.d) / (prev.d - d);
      out.push({ metric, isl: Math.round(isl), direction: d > 0 ? 'disaggregated-ahead' : 'aggregated-ahead' });
    }
    prev = { isl: r.isl, d };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// kv-transfer

export interface KvRow {
  tokens: number;
  series: string;
  /** Mean time of one request's KV transfer, seconds. */
  s: number;
  /** With uncertainty bands: the p5 and p95 of that mean over the samples, seconds. */
  loS?: number;
  hiS?: number;
}

/** A point whose requests fell back: drawn hollow where its KV was given up on (the abort timeout or lease). */
export interface KvFallbackRow {
  tokens: number;
  series: string;
  /** The point's expiry, seconds: how long the KV waited before prefill released it. */
  s: number;
  fellBack: number;
  completed: number;
  /** Whether some of its transfers completed (then it also has a KvRow). */
  someCompleted: boolean;
}

export interface KvRows {
  rows: KvRow[];
  /** Points where requests fell back, one marker each at their expiry. */
  fellBack: KvFallbackRow[];
  /** Series with points but no completed transfer (every transfer failed or expired). */
  noTransfer: string[];
}

/**
 * Mean KV transfer time by ISL and transport; a point with requests that fell back also gets a fallback row at its
 * expiry (where decode gave up on the KV), whether or not some of its transfers completed.
 */
export function kvTransferRowsFromSummary(summary: Summary, catalog?: Catalog): KvRows {
  const pts = summary.points.filter((p) => num(p.params[ISL]) !== undefined && p.params[MODE] !== 'aggregated');
  const series = distinguishing(pts, [ISL], [TRANSPORT]);
  const rows: KvRow[] = [];
  const fellBack: KvFallbackRow[] = [];
  const missing = new Set<string>();
  const present = new Set<string>();
  for (const p of pts) {
    const s = labelOf(p, series) || 'all';
    const tokens = num(p.params[ISL])!;
    const ms = kvMeanMs(p);
    if (ms !== undefined) {
      rows.push({ tokens, series: s, s: ms / 1000, ...bandFields(p.bands?.kvTransferMs.mean, 'loS', 'hiS') });
      present.add(s);
    } else {
      missing.add(s);
    }
    if (p.requests.fellBack > 0) {
      const e = expirySeconds(pointExpiry(p, catalog).expiry);
      fellBack.push({ tokens, series: s, s: e, fellBack: p.requests.fellBack, completed: p.requests.completed, someCompleted: ms !== undefined });
    }
  }
  return { rows, fellBack, noTransfer: [...missing].filter((s) => !present.has(s)) };
}

// ---------------------------------------------------------------------------------------------------------------------
// transport-compare

export interface CompareRow {
  series: string;
  metric: 'TTFT (mean)' | 'KV transfer (mean)';
  s: number;
  fellBack: number;
  completed: number;
  total: number;
}

export interface CompareRows {
  /** The ISL compared at (null when ISL is not swept: the experiment's one length). */
  isl: number | null;
  rows: CompareRow[];
  /** Series at that ISL with no completed request or transfer (nothing to draw for that metric). */
  missing: { series: string; metric: CompareRow['metric'] }[];
  /** The other ISLs of the sweep (not shown). */
  otherIsls: number[];
  /** What tells the bars apart, as an axis and legend title: `transport`. */
  seriesTitle: string;
}

/**
 * Mean TTFT and mean KV transfer time per transport at one ISL: the longest ISL at which every series has a point
 * (where transports differ most); the only one when ISL is not swept.
 */
export function transportCompareRows(summary: Summary): CompareRows {
  const pts = summary.points.filter((p) => p.params[MODE] !== 'aggregated');
  const isls = [...new Set(pts.map((p) => num(p.params[ISL])).filter((v): v is number => v !== undefined))].sort((a, b) => a - b);
  const series = distinguishing(pts, [ISL], [TRANSPORT]);
  const all = [...new Set(pts.map((p) => labelOf(p, series) || 'all'))];
  let isl: number | null = null;
  if (isls.length) {
    const full = isls.filter((v) => all.every((s) => pts.some((p) => p.params[ISL] === v && (labelOf(p, series) || 'all') === s)));
    isl = (full.length ? full : isls)[(full.length ? full : isls).length - 1]!;
  }
  const here = isl === null ? pts : pts.filter((p) => p.params[ISL] === isl);
  const rows: CompareRow[] = [];
  const missing: CompareRows['missing'] = [];
  for (const p of here) {
    const s = labelOf(p, series) || 'all';
    const base = { series: s, fellBack: p.requests.fellBack, completed: p.requests.completed, total: p.requests.total };
    const t = ttftMeanMs(p);
    const kv = kvMeanMs(p);
    if (t !== undefined) rows.push({ ...base, metric: 'TTFT (mean)', s: t / 1000 });
    else missing.push({ series: s, metric: 'TTFT (mean)' });
    if (kv !== undefined) rows.push({ ...base, metric: 'KV transfer (mean)', s: kv / 1000 });
    else missing.push({ series: s, metric: 'KV transfer (mean)' });
  }
  return { isl, rows, missing, otherIsls: isls.filter((v) => v !== isl), seriesTitle: series.map(paramName).join(', ') || 'series' };
}

// ---------------------------------------------------------------------------------------------------------------------
// ttft-cdf

export interface CdfRow {
  point: string;
  label: string;
  /** The colour and dash fields when the points split into a category and a number (see ttftCdfRows). */
  colour: string;
  dash: string;
  ms: number;
  fraction: number;
}

export interface CdfRows {
  rows: CdfRow[];
  colourTitle: string;
  /** Set when lines are told apart by colour and dash (two distinguishing params). */
  dashTitle: string | null;
  /** Order of the dash field's values (numeric order, not text order). */
  dashOrder: string[];
  /** Points with a CDF, and how many of them are drawn. */
  available: number;
  shown: number;
  /** What was left out, for the subtitle; null when everything is shown. */
  note: string | null;
  /** Points with no completed request (nothing to draw), by label. */
  empty: string[];
  /** How many percentiles each drawn point's CDF has (the most of any point): the steps the lines go through. */
  percentiles: number;
  /** Drawn points whose every request had the same TTFT (lowest and highest percentile equal), with that TTFT. */
  alike: { label: string; ms: number }[];
}

/** Evenly spread picks of n from the list, always keeping the first and the last. */
function spread<T>(xs: readonly T[], n: number): T[] {
  if (xs.length <= n) return [...xs];
  if (n <= 1) return xs.slice(0, Math.max(n, 0));
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(xs[Math.round((i * (xs.length - 1)) / (n - 1))]!);
  return out;
}

/**
 * The TTFT CDF of each point with one (completed requests), at most `max` lines. With two distinguishing params, one
 * numeric (ISL) and one not (transport, mode), colour is the category and dash the number, and the numeric values
 * are thinned (first, last and evenly between, at most 4) to fit; otherwise each point is one colour and the points
 * are thinned evenly.
 */
export function ttftCdfRows(summary: Summary, max = 12): CdfRows {
  const pts = summary.points.filter((p) => (p.ttftCdfMs ?? []).some((c) => c.ms > 0));
  // Labels tell apart all the sweep's points, also when some (every request failed) have no CDF to draw.
  const paths = distinguishing(summary.points, [], [TRANSPORT, MODE, CONNECTOR]);
  const empty = summary.points.filter((p) => !pts.includes(p)).map((p) => labelOf(p, paths) || p.id);
  let shown: PointResult[];
  let colourOf: (p: PointResult) => string;
  let dashOf: (p: PointResult) => string = () => '';
  let colourTitle = paths.length ? paths.map(paramName).join(', ') : 'point';
  let dashTitle: string | null = null;
  let dashOrder: string[] = [];
  let note: string | null = null;
  const numeric = paths.filter((k) => pts.every((p) => num(p.params[k]) !== undefined));
  const category = paths.filter((k) => !numeric.includes(k));
  if (paths.length === 2 && numeric.length === 1 && category.length === 1) {
    const [n, c] = [numeric[0]!, category[0]!];
    const cats = valuesOf(pts, c);
    const nums = (valuesOf(pts, n) as number[]).sort((a, b) => a - b);
    const keep = spread(nums, Math.max(1, Math.min(4, Math.floor(max / Math.max(1, cats.length)))));
    shown = pts.filter((p) => keep.includes(p.params[n] as number)).slice(0, max);
    colourOf = (p) => paramText(c, p.params[c]);
    dashOf = (p) => paramText(n, p.params[n]);
    colourTitle = paramName(c);
    dashTitle = paramName(n);
    dashOrder = keep.map((v) => paramText(n, v));
    if (keep.length < nums.length) note = `${paramName(n)} ${keep.map((v) => valueText(v)).join(', ')} of ${nums.length} values`;
  } else {
    shown = spread(pts, max);
    colourOf = (p) => labelOf(p, paths) || p.id;
    if (shown.length < pts.length) note = `${shown.length} of ${pts.length} points`;
  }
  const rows: CdfRow[] = [];
  const alike: CdfRows['alike'] = [];
  let percentiles = 0;
  for (const p of shown) {
    const label = labelOf(p, paths) || p.id;
    // Every percentile the summary keeps, in order: the step function through them is the CDF as far as it is known.
    const cdf = [...(p.ttftCdfMs ?? [])].filter((c) => c.ms > 0).sort((a, b) => a.p - b.p);
    percentiles = Math.max(percentiles, cdf.length);
    for (const c of cdf) rows.push({ point: p.id, label, colour: colourOf(p), dash: dashOf(p), ms: c.ms, fraction: c.p / 100 });
    if (cdf.length && cdf[0]!.ms === cdf[cdf.length - 1]!.ms) alike.push({ label, ms: cdf[0]!.ms });
  }
  return { rows, colourTitle, dashTitle, dashOrder, available: pts.length, shown: shown.length, note, empty, percentiles, alike };
}

// ---------------------------------------------------------------------------------------------------------------------
// kv-transfer, estimated (no run needed)

export interface KvEstimateQuery {
  model: string;
  /** Context lengths, tokens. */
  tokens: readonly number[];
  /** Transport ids; each runs on `node` or on the first catalog node (by id) that offers it. */
  transports: readonly string[];
  node?: string;
  prefillTp?: number;
  decodeTp?: number;
  placement?: Placement;
  bandwidth?: 'min' | 'typical' | 'max';
  prefillBlockSize?: number;
  concurrent?: number;
  timeoutS?: number;
}

export interface KvEstimateRow extends KvRow {
  exceedsTimeout: boolean;
  bytesTotal: number;
}

function nodeFor(c: Catalog, transport: TransportSpec, node: string | undefined): NodeSpec {
  if (node === undefined) return firstNodeOffering(c, transport.id);
  const n = getNode(c, node);
  if (!nodeOffers(n, transport)) throw new UserError(`node '${n.id}' does not offer transport '${transport.id}' (it offers: ${n.transports.join(', ')})`);
  return n;
}

/**
 * KV transfer time of one request by context length and transport, from estimateTransfer (the `transfer` command's
 * model): what the kv-transfer chart shows without a run, e.g. for the 70B model of seed 000 from 10k to 130k tokens.
 */
export function kvTransferEstimateRows(catalog: Catalog, q: KvEstimateQuery): KvEstimateRow[] {
  const llm = getLlm(catalog, q.model);
  const rows: KvEstimateRow[] = [];
  for (const t of q.transports) {
    const transport = getTransport(catalog, t);
    const node = nodeFor(catalog, transport, q.node);
    const gpu = getGpu(catalog, node.gpu);
    for (const tokens of q.tokens) {
      const est = estimateTransfer({
        llm,
        transport,
        tokens,
        prefillTp: q.prefillTp ?? 1,
        decodeTp: q.decodeTp ?? q.prefillTp ?? 1,
        prefillNode: node,
        decodeNode: node,
        hostLinkBandwidth: gpu.hostLink.copyBandwidth,
        placement: q.placement ?? 'cross-node',
        bandwidth: q.bandwidth ?? 'typical',
        prefillBlockSize: q.prefillBlockSize ?? 16,
        concurrent: q.concurrent ?? 1,
        timeoutS: q.timeoutS ?? originalAbortTimeoutS(catalog),
      });
      rows.push({ tokens, series: transport.id, s: round(est.ms / 1000, 6), exceedsTimeout: est.exceedsTimeout, bytesTotal: est.bytesTotal });
    }
  }
  return rows;
}

/** Rounded to `digits` significant decimals so specs stay small and stable. */
function round(x: number, digits: number): number {
  return Number(x.toPrecision(digits));
}

// ---------------------------------------------------------------------------------------------------------------------
// tp-matrix

export interface TpCell {
  connector: string;
  /** Facet header: the profile id, a newline, and what build it stands for. */
  connectorLabel: string;
  prefillTp: number;
  decodeTp: number;
  outcome: Outcome;
  /** What the cell says: READs per request, or the exception the build raises. */
  text: string;
  message: string;
}

/**
 * Profiles in the order vLLM grew them (the truth table's): by the earliest vLLM release each profile's record places
 * (connectorsByRelease), those placing none after, by id.
 */
export function profileOrder(ids: Iterable<string>, catalog: Catalog = defaultCatalog()): string[] {
  return connectorsByRelease(catalog, ids);
}

/**
 * handshakeMatrix for every connector profile (or those named): prefill TP x decode TP in `tps`, equal block sizes.
 * The model only matters through its KV heads (every TP must divide them) and MLA (one READ per decode rank); the
 * default is seed 003's.
 */
export function tpMatrixRows(
  catalog: Catalog,
  opts: { model?: string; tps?: readonly number[]; connectors?: readonly string[]; blockSizes?: { prefill: number; decode: number } } = {},
): TpCell[] {
  const llm = getLlm(catalog, opts.model ?? 'llama-3.1-70b-instruct-fp8');
  const ids = opts.connectors ?? profileOrder(catalog.connectors.keys(), catalog);
  const rows: TpCell[] = [];
  for (const id of ids) {
    const profile = getConnector(catalog, id);
    const label = `${profile.id}\n${profile.name.replace(/^NixlConnector,\s*/, '')}`;
    for (const { prefillTp, decodeTp, verdict } of handshakeMatrix(profile, llm, opts.tps ?? [1, 2, 4, 8], opts.blockSizes)) {
      const text =
        verdict.outcome === 'ok' ? `${verdict.readsPerRequest} READ${verdict.readsPerRequest === 1 ? '' : 's'}` : (verdict.error ?? verdict.outcome);
      rows.push({ connector: profile.id, connectorLabel: label, prefillTp, decodeTp, outcome: verdict.outcome, text, message: verdict.message });
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------------
// tornado (sensitivity)

export interface TornadoRow {
  /** The parameter and its range: `bandwidth per rail (tcp): 0.1 to 3 GB/s`. */
  parameter: string;
  /** Which end of the range the bar is for. */
  end: 'at min' | 'at max';
  /** The parameter's value there, with its unit: `0.1 GB/s`. */
  valueText: string;
  /** The metric with every parameter nominal (where the bar starts) and with this one at this end (where it ends). */
  nominal: number;
  metric: number;
  swing: number;
  /** Whether the bar runs right of the nominal (its label goes on the right). */
  right: boolean;
}

/** A parameter value with its unit: seconds as ms, fractions bare. */
export function parameterValueText(value: number, unit: string): string {
  const n = (x: number) => Number(x.toPrecision(4)).toLocaleString('en-US', { maximumFractionDigits: 6 });
  if (unit === 's') return `${n(value * 1000)} ms`;
  return unit ? `${n(value)} ${unit}` : n(value);
}

/** Two bars a parameter, largest swing first (the sensitivity result's order). */
export function tornadoRows(result: SensitivityResult): TornadoRow[] {
  const rows: TornadoRow[] = [];
  for (const p of result.parameters) {
    const parameter = `${p.label}: ${parameterValueText(p.low.value, p.unit)} to ${parameterValueText(p.high.value, p.unit)}`;
    for (const [end, e] of [['at min', p.low], ['at max', p.high]] as const) {
      rows.push({ parameter, end, valueText: parameterValueText(e.value, p.unit), nominal: result.nominal, metric: e.metric, swing: p.swing, right: e.metric >= result.nominal });
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------------
// transfer-curve

/**
 * Modeled nixlbench bandwidth by block size (4K to 64M, one block a transfer, one thread) for each transport (default:
 * every one in the catalog), between two GPUs where it works: cross-node, or else inside a pod; on the first node by id
 * that offers it.
 */
export function transferCurveRows(catalog: Catalog, transports?: readonly string[]): { transport: string; blockSize: number; blockText: string; bandwidthGBps: number; latencyUs: number }[] {
  const ids = transports ?? [...catalog.transports.keys()].filter((id) => catalog.transports.get(id)!.calibratedFrom === undefined).sort();
  return ids.flatMap((id) => {
    const transport = getTransport(catalog, id);
    const works = (p: Placement) => transport.placements.some((r) => r.placement === p && r.outcome === 'works');
    if (!works('cross-node') && !works('intra-pod')) return [];
    const node = firstNodeOffering(catalog, id);
    return nixlbenchRows({ transport, node, startBlockSize: 4096, maxBlockSize: 64 * 2 ** 20, startBatchSize: 1, maxBatchSize: 1, threads: 1 }).map((r) => ({
      transport: id,
      blockSize: r.blockSize,
      blockText: sizeText(r.blockSize),
      bandwidthGBps: r.bandwidthGBps,
      latencyUs: r.latencyUs,
    }));
  });
}
