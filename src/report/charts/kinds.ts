/**
 * The chart kinds as Vega-Lite specs: each a pure function from rows (data.ts) to a spec, so the same data always
 * gives the same spec. Layout follows one style: a 640 x 400 plot, a title with a subtitle saying how to read it,
 * axis titles with units, a legend wherever colour or dash carries a series.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Catalog } from '../../spec/catalog.js';
import { defaultCatalog } from '../../catalog/index.js';
import { originalAbortTimeoutS } from '../../catalog/vllm.js';
import type { SensitivityResult } from '../../experiment/sensitivity.js';
import type { BreakevenRow, CdfRows, CompareRow, CompareRows, ExpiryLine, KvEstimateQuery, KvFallbackRow, KvRow, TpCell, TtftRow } from './data.js';
import { crossoverIsl, kvTransferEstimateRows, paramText, profileOrder, tornadoRows } from './data.js';

export const CHART_KINDS = ['ttft-vs-isl', 'breakeven', 'kv-transfer', 'transport-compare', 'ttft-cdf', 'tp-matrix', 'transfer-curve', 'tornado', 'pareto', 'autoscale'] as const;
export type ChartKind = (typeof CHART_KINDS)[number];

export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
export const WIDTH = 640;
export const HEIGHT = 400;
/** vLLM's VLLM_NIXL_ABORT_REQUEST_TIMEOUT before PR #25897 (the seeds' builds), from the catalog's earliest release. */
export function defaultTimeoutS(catalog: Catalog = defaultCatalog()): number {
  return originalAbortTimeoutS(catalog);
}

/**
 * The palette of every chart: Vega's tableau10 (told apart by most colour-blind readers), with a shape per series as
 * a second cue wherever points are drawn.
 */
export const SCHEME = 'tableau10';
export const TABLEAU10 = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'] as const;
/** Point shapes in series order, the second cue beside colour. */
export const SHAPES = ['circle', 'square', 'triangle-up', 'diamond', 'cross', 'triangle-down', 'triangle-right', 'triangle-left', 'wedge', 'stroke'] as const;

/**
 * Outcome colours of the TP matrix, blue / orange / dark grey (not red and green), fixed so a chart reads the same
 * whichever outcomes it shows; every cell also says its outcome in words.
 */
export const OUTCOME_COLOURS = { ok: '#4c78a8', rejected: '#f58518', crash: '#3b3b3b' } as const;
/** Limits (abort timeout, lease, SLO bounds, parity): near-black dashed rules, labelled, never a series colour. */
const LIMIT_COLOUR = '#222222';
/**
 * One colour and one shape per transport on every chart (tcp is never blue on one and green on the next): each
 * transport record's `display` (models/transport/), read from the catalog in use. Undefined unless every series is a
 * transport with a display; such series take tableau10 and SHAPES in series order.
 */
function transportDisplays(series: readonly string[]): { colour: string; shape: string }[] | undefined {
  if (series.length === 0) return undefined;
  const catalog = defaultCatalog();
  const out: { colour: string; shape: string }[] = [];
  for (const s of series) {
    const d = catalog.transports.get(s)?.display;
    if (d === undefined) return undefined;
    out.push(d);
  }
  return out;
}

/** The colour scale of a series field: the transports' fixed colours, else tableau10 in series order. */
function seriesScale(series: readonly string[]): Json {
  const fixed = transportDisplays(series);
  if (fixed) return { scale: { domain: [...series], range: fixed.map((d) => d.colour) } };
  return { scale: { scheme: series.length > 10 ? 'tableau20' : SCHEME } };
}

/** The shape scale of a series field (same field and title as the colour, so the two share one legend). */
function seriesShapes(series: readonly string[]): Json {
  const range = transportDisplays(series)?.map((d) => d.shape) ?? series.map((_, i) => SHAPES[i % SHAPES.length]);
  return { scale: { domain: [...series], range } };
}

type Json = Record<string, unknown>;

/** Log scales end at the data (plus a little room), not at the next power of ten: 'nice' wasted half the plot. */
const LOG_SCALE = { type: 'log', nice: false, padding: 12 };
const LINEAR_SCALE = { zero: false, padding: 12 };

/**
 * Log where the values span a decade or more (RDMA seconds and TCP minutes on one axis); linear otherwise, where a
 * log axis would show one or two labels. Returns the scale and the words the titles use.
 */
function valueScale(values: readonly number[]): { scale: Json; log: boolean; axisNote: string; sentence: string } {
  const pos = values.filter((v) => v > 0);
  const log = pos.length > 0 && Math.max(...pos) / Math.min(...pos) >= 10;
  return log ? { scale: LOG_SCALE, log, axisNote: ', log scale', sentence: ' Log scale.' } : { scale: LINEAR_SCALE, log, axisNote: '', sentence: '' };
}
/** Legend symbols long enough to show a dash pattern (a stroke symbol is sqrt(size) pixels long). */
const DASH_LEGEND = { symbolType: 'stroke', symbolSize: 900, symbolStrokeWidth: 2 };

/** The style every chart shares (exported for standalone spec builders such as pareto.ts). */
export const CONFIG: Json = {
  font: 'sans-serif',
  title: { fontSize: 16, subtitleFontSize: 12, subtitleColor: '#444444', anchor: 'start', offset: 14, subtitlePadding: 6 },
  // labelSeparation: log axes otherwise keep labels that touch ("4,0005,000").
  axis: { labelFontSize: 11, titleFontSize: 12, titlePadding: 10, labelLimit: 0, labelSeparation: 6 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 0, symbolStrokeWidth: 2.5 },
  header: { labelFontSize: 12, titleFontSize: 12, labelLimit: 0 },
  line: { strokeWidth: 2 },
};

function title(text: string, subtitle: readonly string[]): Json {
  return subtitle.length ? { text, subtitle: [...subtitle] } : { text };
}

function top(t: Json, body: Json): TopLevelSpec {
  return { $schema: VEGA_LITE_SCHEMA, title: t, ...body, config: CONFIG } as unknown as TopLevelSpec;
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

const fmtInt = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

/**
 * Layers drawing a dashed horizontal rule at each line's value on field `field`, labelled under its right end (lines
 * that cross a timeout run above it). Lease lines are dotted, abort timeouts dashed.
 */
function thresholdLayers(field: string, lines: readonly { s: number; label: string; kind?: string }[]): Json[] {
  const values = lines.map((l) => ({ [field]: l.s, label: l.label, lease: l.kind === 'lease' }));
  const data = { values };
  const y = { field, type: 'quantitative' };
  const rule = (lease: boolean): Json => ({
    data,
    transform: [{ filter: lease ? 'datum.lease' : '!datum.lease' }],
    mark: { type: 'rule', color: LIMIT_COLOUR, strokeDash: lease ? [2, 3] : [6, 4], size: 1.5 },
    encoding: { y },
  });
  return [
    ...(values.some((v) => !v.lease) ? [rule(false)] : []),
    ...(values.some((v) => v.lease) ? [rule(true)] : []),
    {
      data,
      // Under the rule's left end: lines that cross a timeout mostly do so at the long (right) end.
      // dx clears a fallen-back ring drawn on the rule at the first length.
      mark: { type: 'text', color: LIMIT_COLOUR, align: 'left', baseline: 'top', x: 0, dx: 14, dy: 4, fontSize: 12, fontWeight: 'bold' },
      encoding: { y, text: { field: 'label' } },
    },
  ];
}

/** The lines a chart of a run draws: the run's own (one per distinct expiry), or one at `timeoutS` for an estimate. */
function limitLines(lines: readonly ExpiryLine[] | undefined, timeoutS: number | undefined): { s: number; label: string; kind: string }[] {
  if (lines && lines.length) return [...lines];
  const s = timeoutS ?? defaultTimeoutS();
  return [{ s, label: `vLLM abort timeout (${s} s)`, kind: 'abort-timeout' }];
}

/**
 * Series whose points all coincide with an earlier series' (same x, same y): drawn under it, so named in the subtitle
 * (`roce-rdma coincides with ib-rdma`). Null when none do.
 */
function coincident<R>(rows: readonly R[], series: (r: R) => string, key: (r: R) => string): string | null {
  const bySeries = new Map<string, string[]>();
  for (const r of rows) bySeries.set(series(r), [...(bySeries.get(series(r)) ?? []), key(r)]);
  const sigs = [...bySeries.entries()].map(([s, ks]) => [s, ks.sort().join('|')] as const);
  const same: string[] = [];
  sigs.forEach(([s, sig], i) => {
    const first = sigs.slice(0, i).find(([, other]) => other === sig);
    if (first) same.push(`${s} with ${first[0]}`);
  });
  return same.length ? `Drawn on top of each other (the same values at every length): ${same.join('; ')}.` : null;
}

/** The hollow marker that stands for requests that fell back, as its own legend entry. */
function fellBackLegend(text: string): Json {
  return {
    field: 'marker',
    type: 'ordinal',
    title: null,
    // An ordinal scale (not the default point scale, which maps one value to NaN): the ring drawn at full opacity.
    scale: { type: 'ordinal', domain: [text], range: [1] },
    legend: { symbolType: 'circle', symbolFillColor: 'white', symbolStrokeColor: '#333333', symbolStrokeWidth: 2, symbolSize: 160, labelLimit: 0 },
  };
}

/** Uncertainty bands as a shaded area per line (p5 to p95 over the Monte Carlo samples), under the lines. */
function bandLayer(rows: readonly Json[], x: Json, yField: string, y: Json, color: Json, detail?: string): Json {
  return {
    data: { values: rows.map((r) => ({ ...r, bandSeries: r['series'] })) },
    mark: { type: 'area', opacity: 0.16, interpolate: 'linear' },
    encoding: {
      x,
      y: { ...y, field: 'loS' },
      y2: { field: 'hiS' },
      // fill on a copy of the series field, not color: its own (identical) scale with no legend of its own, which
      // Vega-Lite would otherwise merge with the lines' and draw with area symbols.
      fill: { ...color, field: 'bandSeries', legend: null },
      ...(detail ? { detail: { field: detail, type: 'nominal' } } : {}),
      tooltip: [
        { field: 'series' },
        { field: x['field'] as string, format: ',' },
        ...(detail ? [{ field: detail, title: 'statistic' }] : []),
        { field: 'loS', title: 'p5 (s)', format: ',.3f' },
        { field: yField, title: 'nominal (s)', format: ',.3f' },
        { field: 'hiS', title: 'p95 (s)', format: ',.3f' },
      ],
    },
  };
}

/** The subtitle lines of a banded chart; the second when some nominal value lies outside its band. */
function bandSentences<R extends { loS?: number; hiS?: number }>(samples: number, rows: readonly R[], value: (r: R) => number): string[] {
  const out = [`Shaded: p5 to p95 over ${samples} Monte Carlo samples of the catalog\u2019s uncertain figures (bandwidth, GPU efficiency); lines: the nominal run.`];
  const outside = rows.some((r) => r.loS !== undefined && r.hiS !== undefined && (value(r) < r.loS || value(r) > r.hiS));
  if (outside) out.push('A line outside its shading: its nominal figures sit at the end of their ranges (e.g. a measured bandwidth that is the catalog\u2019s min), so most samples draw others.');
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------

export interface TtftVsIslOptions {
  /** Where the abort-timeout rule goes (seconds) when `expiries` is not given. */
  timeoutS?: number;
  /** The run's abort / lease lines (expiryLines): one rule each. */
  expiries?: readonly ExpiryLine[];
  title?: string;
  /** Legend title of the series (default 'transport'). */
  seriesTitle?: string;
  /** Draw the timeout rule; default: when some TTFT comes within a tenth of it or requests fell back. */
  showTimeout?: boolean;
  /** Monte Carlo samples behind the rows' bands (loS, hiS), for the subtitle; the bands are drawn when rows have them. */
  bandSamples?: number;
}

/** TTFT (mean, p95 dashed when it differs) against ISL per transport, log y, with the abort timeout as a rule. */
export function ttftVsIslSpec(rows: readonly TtftRow[], opts: TtftVsIslOptions = {}): TopLevelSpec {
  const limits = limitLines(opts.expiries, opts.timeoutS);
  const timeoutS = Math.min(...limits.map((l) => l.s));
  const mean = rows.filter((r) => r.stat === 'mean');
  const p95Differs = mean.some((m) => {
    const p = rows.find((r) => r.stat === 'p95' && r.series === m.series && r.isl === m.isl);
    return p !== undefined && Math.abs(p.ttftS - m.ttftS) > 0.005 * m.ttftS;
  });
  const data = p95Differs ? rows : mean;
  const fellBack = unique(mean.filter((r) => r.fellBack > 0).map((r) => r.series));
  const series = unique(mean.map((r) => r.series));
  const showTimeout = opts.showTimeout ?? (fellBack.length > 0 || data.some((r) => r.ttftS >= timeoutS / 10));
  const banded = data.filter((r) => r.loS !== undefined && r.hiS !== undefined);
  const ys = valueScale([...data.map((r) => r.ttftS), ...banded.flatMap((r) => [r.loS!, r.hiS!]), ...(showTimeout ? limits.map((l) => l.s) : [])]);
  const subtitle = [
    `Time to first token by input length, one line per ${opts.seriesTitle ?? 'transport'}; ` +
      (p95Differs ? 'solid: mean, dashed: p95.' : 'mean (p95 equals it at every point).') +
      ys.sentence,
  ];
  if (banded.length) subtitle.push(...bandSentences(opts.bandSamples ?? 0, banded, (r) => r.ttftS));
  const same = coincident(mean, (r) => r.series, (r) => `${r.isl}:${r.ttftS.toPrecision(4)}`);
  if (same) subtitle.push(same);
  const FELL_BACK = 'hollow ring: some requests fell back';
  if (fellBack.length) {
    const after = limits.map((l) => `${l.s} s`).join(' or ');
    subtitle.push(`Hollow rings: requests fell back (KV released after ${after}, prompt prefilled again on decode), their TTFT in the mean: ${fellBack.join(', ')}.`);
  }
  const x = { field: 'isl', type: 'quantitative', title: 'input length, ISL (tokens)', scale: { zero: false }, axis: { format: ',.0f' } };
  const y = { field: 'ttftS', type: 'quantitative', title: `time to first token (s${ys.axisNote})`, scale: ys.scale };
  const seriesTitleText = opts.seriesTitle ?? 'transport';
  const color = { field: 'series', type: 'nominal', title: seriesTitleText, sort: series, ...seriesScale(series) };
  const shape = { field: 'series', type: 'nominal', title: seriesTitleText, sort: series, ...seriesShapes(series) };
  const tooltip = [
    { field: 'series', title: opts.seriesTitle ?? 'transport' },
    { field: 'isl', title: 'ISL', format: ',' },
    { field: 'stat', title: 'statistic' },
    { field: 'ttftS', title: 'TTFT (s)', format: ',.3f' },
    { field: 'fellBack', title: 'fell back' },
  ];
  const lines: Json = {
    data: { values: data },
    mark: { type: 'line' },
    encoding: {
      x,
      y,
      color,
      ...(p95Differs
        ? { strokeDash: { field: 'stat', type: 'nominal', title: 'TTFT', scale: { domain: ['mean', 'p95'], range: [[1, 0], [5, 4]] }, legend: DASH_LEGEND } }
        : {}),
    },
  };
  const points: Json = {
    data: { values: mean },
    mark: { type: 'point', filled: true, size: 60, opacity: 1 },
    encoding: { x, y, color, shape, tooltip },
  };
  const rings: Json[] = fellBack.length
    ? [
        {
          data: { values: mean.filter((r) => r.fellBack > 0).map((r) => ({ ...r, marker: FELL_BACK })) },
          mark: { type: 'point', filled: false, shape: 'circle', size: 260, strokeWidth: 2 },
          encoding: { x, y, color, opacity: fellBackLegend(FELL_BACK), tooltip },
        },
      ]
    : [];
  return top(title(opts.title ?? 'TTFT vs input length', subtitle), {
    width: WIDTH,
    height: HEIGHT,
    layer: [
      ...(banded.length ? [bandLayer(banded as unknown as Json[], x, 'ttftS', y, color, p95Differs ? 'stat' : undefined)] : []),
      lines,
      points,
      ...rings,
      ...(showTimeout ? thresholdLayers('ttftS', limits) : []),
    ],
  });
}

// ---------------------------------------------------------------------------------------------------------------------

const TPUT = 'output tok/s (disagg / agg)';
const ITL = 'mean ITL (disagg / agg)';

/** Throughput and ITL ratios of disaggregated to aggregated against ISL, a rule at 1.0 and the crossover marked. */
export function breakevenSpec(rows: readonly BreakevenRow[], opts: { title?: string; subtitle?: string } = {}): TopLevelSpec {
  const groups = unique(rows.map((r) => r.group));
  const long: Json[] = [];
  for (const r of rows) {
    const common = { isl: r.isl, group: r.group, aggTokS: r.aggTokS, disaggTokS: r.disaggTokS, aggItlMs: r.aggItlMs, disaggItlMs: r.disaggItlMs };
    long.push({ ...common, metric: TPUT, ratio: r.throughputRatio });
    if (Number.isFinite(r.itlRatio)) long.push({ ...common, metric: ITL, ratio: r.itlRatio });
  }
  const crossovers = groups.map((g) => ({ group: g, isl: crossoverIsl(rows.filter((r) => r.group === g)) }));
  const marked = crossovers.filter((c): c is { group: string; isl: number } => c.isl !== null);
  const crossText = (c: { group: string; isl: number | null }): string =>
    `${c.group ? `${c.group}: ` : ''}${c.isl === null ? 'none in the range' : `ISL ${fmtInt(c.isl)}`}`;
  const subtitle = [
    opts.subtitle ?? 'Disaggregated relative to aggregated serving by input length.',
    'Output tok/s above 1: disaggregated serves more. ITL below 1: disaggregated decodes faster.',
    `Crossover (the first ISL where disaggregated output tok/s exceeds aggregated): ${crossovers.map(crossText).join('; ')}.`,
  ];
  const x = { field: 'isl', type: 'quantitative', title: 'input length, ISL (tokens)', scale: { zero: false }, axis: { format: ',.0f' } };
  const y = { field: 'ratio', type: 'quantitative', title: 'disaggregated / aggregated (ratio)', scale: { zero: false } };
  const color = { field: 'metric', type: 'nominal', title: 'ratio', scale: { domain: [TPUT, ITL], range: [TABLEAU10[0], TABLEAU10[1]] } };
  const shape = { field: 'metric', type: 'nominal', title: 'ratio', scale: { domain: [TPUT, ITL], range: ['circle', 'square'] } };
  const dash = groups.length > 1 ? { strokeDash: { field: 'group', type: 'nominal', title: 'series', sort: groups, legend: DASH_LEGEND } } : {};
  const tooltip = [
    { field: 'isl', title: 'ISL', format: ',' },
    { field: 'metric' },
    { field: 'ratio', format: '.3f' },
    { field: 'aggTokS', title: 'agg tok/s', format: ',.1f' },
    { field: 'disaggTokS', title: 'disagg tok/s', format: ',.1f' },
    { field: 'aggItlMs', title: 'agg ITL ms', format: ',.2f' },
    { field: 'disaggItlMs', title: 'disagg ITL ms', format: ',.2f' },
  ];
  const parity = { values: [{ ratio: 1, label: 'parity (1.0)' }] };
  const layers: Json[] = [
    { data: parity, mark: { type: 'rule', color: '#555555', size: 1.5 }, encoding: { y: { field: 'ratio', type: 'quantitative' } } },
    {
      data: parity,
      mark: { type: 'text', color: '#555555', align: 'right', baseline: 'bottom', x: 'width', dx: -4, dy: -3, fontSize: 11 },
      encoding: { y: { field: 'ratio', type: 'quantitative' }, text: { field: 'label' } },
    },
    { data: { values: long }, mark: { type: 'line' }, encoding: { x, y, color, ...dash, detail: { field: 'group', type: 'nominal' } } },
    { data: { values: long }, mark: { type: 'point', filled: true, size: 60, opacity: 1 }, encoding: { x, y, color, shape, tooltip } },
  ];
  if (marked.length) {
    // A crossover in the right part of the plot is labelled on the rule's left, so the text stays inside the plot.
    const isls = rows.map((r) => r.isl);
    const [lo, hi] = [Math.min(...isls), Math.max(...isls)];
    const side = (isl: number) => (hi > lo && (isl - lo) / (hi - lo) > 0.6 ? 'left' : 'right');
    const values = marked.map((c) => ({ isl: c.isl, label: `crossover: ${crossText(c)}`, side: side(c.isl) }));
    layers.push(
      { data: { values }, mark: { type: 'rule', color: LIMIT_COLOUR, strokeDash: [4, 3], size: 1.5 }, encoding: { x: { field: 'isl', type: 'quantitative' } } },
      ...(['right', 'left'] as const).flatMap((where) => {
        const here = values.map((v, i) => ({ ...v, row: i })).filter((v) => v.side === where);
        if (!here.length) return [];
        const mark = { type: 'text', color: LIMIT_COLOUR, baseline: 'top', fontSize: 12, fontWeight: 'bold', align: where === 'right' ? 'left' : 'right', dx: where === 'right' ? 5 : -5 };
        // Several groups' crossovers stack downwards, one line each.
        const yOffset = { field: 'row', type: 'quantitative', scale: { domain: [0, Math.max(1, values.length - 1)], range: [0, 16 * Math.max(1, values.length - 1)] } };
        return [{ data: { values: here }, mark, encoding: { x: { field: 'isl', type: 'quantitative' }, y: { value: 6 }, yOffset, text: { field: 'label' } } }];
      }),
    );
  }
  return top(title(opts.title ?? 'Disaggregated vs aggregated: breakeven by input length', subtitle), { width: WIDTH, height: HEIGHT, layer: layers });
}

// ---------------------------------------------------------------------------------------------------------------------

export interface KvTransferOptions {
  title?: string;
  /** Extra subtitle lines (what the data is: a run, or an estimate for a model). */
  subtitle?: string[];
  /** Series with no completed transfer, named in the subtitle. */
  noTransfer?: string[];
  /** The abort timeout (default 120 s) and whether to draw it (default: when a transfer comes within a tenth of it
   * or a series has none); a run's charts give `expiries` instead, one line per distinct expiry among its points. */
  timeoutS?: number;
  expiries?: readonly ExpiryLine[];
  /** Points whose requests fell back: hollow markers at their expiry. */
  fellBack?: readonly KvFallbackRow[];
  showTimeout?: boolean;
  /** Legend title of the series (default 'transport'). */
  seriesTitle?: string;
  /** Monte Carlo samples behind the rows' bands (loS, hiS), for the subtitle; the bands are drawn when rows have them. */
  bandSamples?: number;
}

/** One request's KV transfer time against context length per transport, log y. */
export function kvTransferSpec(rows: readonly KvRow[], opts: KvTransferOptions = {}): TopLevelSpec {
  const limits = limitLines(opts.expiries, opts.timeoutS);
  const noTransfer = opts.noTransfer ?? [];
  const fellBack = opts.fellBack ?? [];
  const lowest = Math.min(...limits.map((l) => l.s));
  const show = opts.showTimeout ?? (noTransfer.length > 0 || fellBack.length > 0 || rows.some((r) => r.s >= lowest / 10));
  const series = unique([...rows.map((r) => r.series), ...fellBack.map((r) => r.series)]);
  const banded = rows.filter((r) => r.loS !== undefined && r.hiS !== undefined);
  const ys = valueScale([...rows.map((r) => r.s), ...fellBack.map((r) => r.s), ...banded.flatMap((r) => [r.loS!, r.hiS!]), ...(show ? limits.map((l) => l.s) : [])]);
  const subtitle = [...(opts.subtitle ?? [`Mean time to move one request\u2019s KV cache from prefill to decode.${ys.sentence}`])];
  if (banded.length) subtitle.push(...bandSentences(opts.bandSamples ?? 0, banded, (r) => r.s));
  const same = coincident(rows, (r) => r.series, (r) => `${r.tokens}:${r.s.toPrecision(4)}`);
  if (same) subtitle.push(same);
  const FELL_BACK = 'hollow ring: requests fell back (KV released unread)';
  if (fellBack.length) {
    const only = unique(fellBack.filter((r) => !r.someCompleted).map((r) => r.series));
    subtitle.push(
      `Hollow rings: points whose requests fell back, drawn at the expiry that released their KV; decode prefilled those prompts again.` +
        (only.length ? ` No transfer completed at some lengths: ${only.join(', ')}.` : ''),
    );
  } else if (noTransfer.length) {
    subtitle.push(`No transfer completed: ${noTransfer.join(', ')}.`);
  }
  const over = limits.map((l) => ({ l, series: unique(rows.filter((r) => r.s > l.s).map((r) => r.series)) })).filter((o) => o.series.length);
  if (show) for (const o of over) subtitle.push(`Above the ${o.l.s} s ${o.l.kind === 'lease' ? 'lease' : 'abort timeout'} at some lengths: ${o.series.join(', ')}.`);
  const x = { field: 'tokens', type: 'quantitative', title: 'context length (tokens)', scale: { zero: false }, axis: { format: ',.0f' } };
  const y = { field: 's', type: 'quantitative', title: `KV transfer time per request (s${ys.axisNote})`, scale: ys.scale };
  const seriesTitleText = opts.seriesTitle ?? 'transport';
  const color = { field: 'series', type: 'nominal', title: seriesTitleText, sort: series, ...seriesScale(series) };
  const shape = { field: 'series', type: 'nominal', title: seriesTitleText, sort: series, ...seriesShapes(series) };
  const tooltip = [{ field: 'series', title: seriesTitleText }, { field: 'tokens', format: ',' }, { field: 's', title: 'seconds', format: ',.4f' }];
  const layers: Json[] = [
    ...(banded.length ? [bandLayer(banded as unknown as Json[], x, 's', y, color)] : []),
    { data: { values: rows }, mark: { type: 'line' }, encoding: { x, y, color } },
    { data: { values: rows }, mark: { type: 'point', filled: true, size: 60, opacity: 1 }, encoding: { x, y, color, shape, tooltip } },
  ];
  if (fellBack.length) {
    layers.push({
      data: { values: fellBack.map((r) => ({ ...r, marker: FELL_BACK })) },
      mark: { type: 'point', filled: false, shape: 'circle', size: 260, strokeWidth: 2 },
      encoding: {
        x,
        y,
        color,
        opacity: fellBackLegend(FELL_BACK),
        tooltip: [
          { field: 'series', title: seriesTitleText },
          { field: 'tokens', format: ',' },
          { field: 's', title: 'KV released after (s)', format: ',' },
          { field: 'fellBack', title: 'requests fell back' },
          { field: 'completed', title: 'requests completed' },
        ],
      },
    });
  }
  if (show) layers.push(...thresholdLayers('s', limits));
  return top(title(opts.title ?? 'KV transfer time vs context length', subtitle), { width: WIDTH, height: HEIGHT, layer: layers });
}

// ---------------------------------------------------------------------------------------------------------------------

/** TTFT CDF per point: x TTFT ms (log), y fraction of requests. */
export function ttftCdfSpec(cdf: CdfRows, opts: { title?: string } = {}): TopLevelSpec {
  const xs = valueScale(cdf.rows.map((r) => r.ms));
  const subtitle = [
    `Fraction of requests whose first token came within x.${xs.sentence}` + (cdf.note ? ` Showing ${cdf.note}.` : ''),
    `Empirical CDF as a step function through the ${cdf.percentiles} percentiles (p0 to p100) summary.json keeps of each point\u2019s HDR histogram (3 significant digits), not through every request.`,
  ];
  const drawn = unique(cdf.rows.map((r) => r.point)).length;
  if (cdf.alike.length) {
    const ms = (v: number) => `${v.toLocaleString('en-US', { maximumFractionDigits: 1 })} ms`;
    const few = cdf.alike.length <= 3 ? ` (${cdf.alike.map((a) => `${a.label}: ${ms(a.ms)}`).join('; ')})` : '';
    subtitle.push(
      cdf.alike.length === drawn
        ? `Every request alike: at each point all requests had one TTFT, so its CDF is a single vertical step${few}.`
        : `A vertical step: every request of that point had the same TTFT${few || ` (${cdf.alike.length} points)`}.`,
    );
  }
  if (cdf.empty.length) subtitle.push(`No completed request, nothing to draw: ${cdf.empty.join('; ')}.`);
  const colours = unique(cdf.rows.map((r) => r.colour));
  const encoding: Json = {
    x: { field: 'ms', type: 'quantitative', title: `time to first token (ms${xs.axisNote})`, scale: xs.scale },
    y: { field: 'fraction', type: 'quantitative', title: 'fraction of requests (0-1)', scale: { domain: [0, 1] } },
    color: {
      field: 'colour',
      type: 'nominal',
      title: cdf.colourTitle,
      sort: colours,
      ...seriesScale(colours),
      legend: DASH_LEGEND,
    },
    detail: { field: 'point', type: 'nominal' },
    order: { field: 'fraction', type: 'quantitative' },
    tooltip: [{ field: 'label', title: 'point' }, { field: 'ms', title: 'TTFT ms', format: ',.1f' }, { field: 'fraction', format: '.3f' }],
  };
  if (cdf.dashTitle !== null) {
    const dashes = [[1, 0], [8, 4], [2, 3], [12, 3, 3, 3]].slice(0, Math.max(1, cdf.dashOrder.length));
    encoding['strokeDash'] = {
      field: 'dash',
      type: 'ordinal',
      title: cdf.dashTitle,
      sort: cdf.dashOrder,
      scale: { domain: cdf.dashOrder, range: dashes },
      legend: DASH_LEGEND,
    };
  }
  return top(title(opts.title ?? 'TTFT distribution (CDF) per point', subtitle), {
    width: WIDTH,
    height: HEIGHT,
    data: { values: cdf.rows },
    mark: { type: 'line', strokeWidth: 2, interpolate: 'step-after' },
    encoding,
  });
}

// ---------------------------------------------------------------------------------------------------------------------

/** Prefill TP (rows) x decode TP (columns) outcome heatmap, one panel per connector profile. */
export function tpMatrixSpec(cells: readonly TpCell[], opts: { title?: string; subtitle?: string } = {}): TopLevelSpec {
  const ids = profileOrder(unique(cells.map((c) => c.connector)));
  const labels = ids.map((id) => cells.find((c) => c.connector === id)!.connectorLabel);
  const tps = unique(cells.map((c) => c.prefillTp)).sort((a, b) => a - b);
  const decodeTps = unique(cells.map((c) => c.decodeTp)).sort((a, b) => a - b);
  // Wide enough for the longest exception name on one line under the outcome word.
  const step = 136;
  const outcome = { field: 'outcome', type: 'nominal' };
  // The outcome in words first, so the matrix reads without its colours.
  const values = cells.map((c) => ({ ...c, cellText: `${c.outcome}\n${c.text}` }));
  return top(
    title(opts.title ?? 'Asymmetric TP: which prefill/decode pairs each vLLM build accepts', [
      opts.subtitle ??
        'Handshake outcome per connector profile (vLLM build), in words in every cell. ok: READs per request; rejected: the handshake error; crash: what kills the engine.',
    ]),
    {
      data: { values },
      facet: { field: 'connectorLabel', type: 'nominal', title: null, sort: labels, header: { labelFontSize: 12, labelLimit: 0, labelExpr: "split(datum.value, '\\n')", labelLineHeight: 16 } },
      columns: 2,
      spacing: { row: 24, column: 40 },
      spec: {
        width: step * decodeTps.length,
        height: 56 * tps.length,
        layer: [
          {
            mark: { type: 'rect', stroke: 'white', strokeWidth: 2 },
            encoding: {
              x: { field: 'decodeTp', type: 'ordinal', title: 'decode TP', sort: decodeTps, axis: { labelAngle: 0 } },
              y: { field: 'prefillTp', type: 'ordinal', title: 'prefill TP', sort: tps },
              color: {
                ...outcome,
                title: 'outcome',
                scale: { domain: ['ok', 'rejected', 'crash'], range: [OUTCOME_COLOURS.ok, OUTCOME_COLOURS.rejected, OUTCOME_COLOURS.crash] },
                legend: { orient: 'top', direction: 'horizontal' },
              },
              tooltip: [{ field: 'connector' }, { field: 'prefillTp', title: 'prefill TP' }, { field: 'decodeTp', title: 'decode TP' }, outcome, { field: 'message' }],
            },
          },
          {
            mark: { type: 'text', color: 'white', fontSize: 11, lineBreak: '\n', lineHeight: 13 },
            encoding: {
              x: { field: 'decodeTp', type: 'ordinal', sort: decodeTps },
              y: { field: 'prefillTp', type: 'ordinal', sort: tps },
              text: { field: 'cellText' },
            },
          },
        ],
      },
    },
  );
}

/**
 * The kv-transfer chart without a run: estimateTransfer's time for one request of `q.model` by context length on each
 * transport (the `transfer` command's model), e.g. seed 000's 70B at TP8 from 10k to 130k tokens.
 */
export function kvTransferEstimateSpec(catalog: Catalog, q: KvEstimateQuery, opts: { title?: string } = {}): TopLevelSpec {
  const rows = kvTransferEstimateRows(catalog, q);
  const p = q.prefillTp ?? 1;
  const d = q.decodeTp ?? p;
  const timeoutS = q.timeoutS ?? defaultTimeoutS(catalog);
  return kvTransferSpec(rows, {
    title: opts.title ?? `KV transfer time vs context length: ${q.model}, TP${p} to TP${d}`,
    subtitle: [
      `Estimated time to move one request\u2019s KV cache, prefill TP${p} to decode TP${d}, ${q.placement ?? 'cross-node'}, ` +
        `${q.bandwidth ?? 'typical'} bandwidth${(q.concurrent ?? 1) > 1 ? `, ${q.concurrent} transfers at once` : ''}.`,
    ],
    timeoutS,
  });
}

// ---------------------------------------------------------------------------------------------------------------------

/** Colours of a tornado's bars: the parameter at the min and at the max of its range. */
const END_COLOURS = { 'at min': TABLEAU10[0], 'at max': TABLEAU10[1] } as const;

const fmtMetric = (x: number): string => x.toLocaleString('en-US', { maximumFractionDigits: Math.abs(x) >= 100 ? 0 : 2 });

/**
 * A tornado chart of a sensitivity result: one row per parameter, largest swing on top; from the nominal value of the
 * metric, one bar to its value with the parameter at its min and one at its max, each labelled with that value.
 */
export function tornadoSpec(result: SensitivityResult, opts: { title?: string } = {}): TopLevelSpec {
  const rows = tornadoRows(result);
  const order = unique(rows.map((r) => r.parameter));
  const m = { label: result.label, unit: result.unit };
  const where = [result.point.id, ...Object.entries(result.point.params).map(([k, v]) => paramText(k, v))].join(', ');
  const subtitle = [
    `How far ${m.label} moves at point ${where} when one catalog figure goes to an end of its range, the others nominal.`,
    `Largest swing (|at max - at min|) on top. Nominal: ${fmtMetric(result.nominal)} ${m.unit}.`,
  ];
  // Room for the value labels at both ends, but no negative latencies on the axis.
  const values = [result.nominal, ...rows.map((r) => r.metric)];
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  const margin = hi > lo ? 0.12 * (hi - lo) : Math.max(1, 0.1 * Math.abs(hi));
  const domain = [lo >= 0 ? Math.max(0, lo - margin) : lo - margin, hi + margin];
  const x = { field: 'nominal', type: 'quantitative', title: `${m.label} (${m.unit})`, scale: { domain, nice: false }, axis: { format: ',~r' } };
  const y = { field: 'parameter', type: 'nominal', title: null, sort: order, axis: { labelLimit: 0, labelFontSize: 12 } };
  const yOffset = { field: 'end', type: 'nominal', sort: ['at min', 'at max'], scale: { paddingInner: 0.1 } };
  const label = (right: boolean): Json => ({
    transform: [{ filter: right ? 'datum.right' : '!datum.right' }],
    mark: { type: 'text', align: right ? 'left' : 'right', dx: right ? 4 : -4, baseline: 'middle', fontSize: 11 },
    encoding: { y, yOffset, x: { field: 'metric', type: 'quantitative' }, text: { field: 'valueText' } },
  });
  const nominal = { values: [{ nominal: result.nominal, label: `nominal ${fmtMetric(result.nominal)} ${m.unit}` }] };
  return top(title(opts.title ?? `Sensitivity of ${m.label} (${result.experiment})`, subtitle), {
    width: WIDTH,
    height: Math.max(120, 52 * order.length),
    layer: [
      {
        data: { values: rows },
        layer: [
          {
            mark: { type: 'bar', cornerRadius: 1 },
            encoding: {
              y,
              yOffset,
              x,
              x2: { field: 'metric' },
              color: {
                field: 'end',
                type: 'nominal',
                title: 'parameter',
                scale: { domain: Object.keys(END_COLOURS), range: Object.values(END_COLOURS) },
                legend: { orient: 'bottom', direction: 'horizontal' },
              },
              tooltip: [
                { field: 'parameter' },
                { field: 'end' },
                { field: 'valueText', title: 'value' },
                { field: 'metric', title: `${m.label} (${m.unit})`, format: ',.2f' },
                { field: 'swing', title: `swing (${m.unit})`, format: ',.2f' },
              ],
            },
          },
          label(true),
          label(false),
        ],
      },
      { data: nominal, mark: { type: 'rule', color: '#333333', size: 1.5 }, encoding: { x: { field: 'nominal', type: 'quantitative' } } },
      {
        data: nominal,
        mark: { type: 'text', color: '#333333', align: 'left', baseline: 'bottom', dx: 4, y: 0, dy: -2, fontSize: 11 },
        encoding: { x: { field: 'nominal', type: 'quantitative' }, text: { field: 'label' } },
      },
    ],
  });
}

/** One point of a transfer curve: a transport's modeled nixlbench bandwidth at a block size. */
export interface TransferCurvePoint {
  transport: string;
  blockSize: number;
  blockText: string;
  bandwidthGBps: number;
  latencyUs: number;
}

/**
 * transfer-curve: bandwidth by message (block) size per transport, log-log, from modeled nixlbench rows: the per-block
 * posting cost holds small blocks far below line rate; large ones reach the transport's bandwidth.
 */
export function transferCurveSpec(points: readonly TransferCurvePoint[], opts: { title?: string; subtitle?: string } = {}): TopLevelSpec {
  const transports = unique(points.map((p) => p.transport));
  return top(
    title(opts.title ?? 'Transfer bandwidth by block size (modeled nixlbench)', [
      opts.subtitle ?? 'One GPU each side, one thread, one block a transfer. Small blocks pay the setup and posting of each transfer; large ones reach the rails\u2019 bandwidth.',
    ]),
    {
      width: WIDTH,
      height: HEIGHT,
      data: { values: points.map((p) => ({ ...p })) },
      encoding: {
        x: { field: 'blockSize', type: 'quantitative', title: 'block size (bytes)', scale: { type: 'log', base: 2 }, axis: { labelExpr: "datum.value >= 1073741824 ? datum.value / 1073741824 + 'G' : datum.value >= 1048576 ? datum.value / 1048576 + 'M' : datum.value >= 1024 ? datum.value / 1024 + 'K' : datum.value" } },
        y: { field: 'bandwidthGBps', type: 'quantitative', title: 'bandwidth (GB/s)', scale: { type: 'log' } },
        color: { field: 'transport', type: 'nominal', title: 'transport', sort: transports, ...seriesScale(transports) },
      },
      layer: [
        { mark: { type: 'line' } },
        {
          mark: { type: 'point', filled: true, size: 45, opacity: 1 },
          encoding: {
            shape: { field: 'transport', type: 'nominal', title: 'transport', sort: transports, ...seriesShapes(transports) },
            tooltip: [{ field: 'transport' }, { field: 'blockText', title: 'block size' }, { field: 'bandwidthGBps', title: 'GB/s', format: '.3~g' }, { field: 'latencyUs', title: 'latency (us)', format: '.3~g' }],
          },
        },
      ],
    },
  );
}

// ---------------------------------------------------------------------------------------------------------------------

/**
 * transport-compare: mean TTFT and mean KV transfer time per transport at one ISL, as bars side by side (two panels,
 * each its own scale: a TTFT in minutes would flatten a transfer in milliseconds). Bars of points whose requests fell
 * back are hatched-free but outlined and labelled, and the run's abort / lease lines are drawn on both panels.
 */
export function transportCompareSpec(c: CompareRows, opts: { title?: string; seriesTitle?: string; expiries?: readonly ExpiryLine[] } = {}): TopLevelSpec {
  const series = unique(c.rows.map((r) => r.series).concat(c.missing.map((m) => m.series)));
  const seriesTitleText = opts.seriesTitle ?? 'transport';
  const at = c.isl === null ? 'the experiment\u2019s input length' : `ISL ${fmtInt(c.isl)}`;
  const subtitle = [`Mean time to first token and mean KV transfer time per ${seriesTitleText} at ${at}; bars labelled with their value.`];
  if (c.otherIsls.length) subtitle.push(`The longest ISL every ${seriesTitleText} ran at; the sweep\u2019s other ISLs (${c.otherIsls.map(fmtInt).join(', ')}) are in ttft-vs-isl and kv-transfer.`);
  const fell = unique(c.rows.filter((r) => r.fellBack > 0).map((r) => `${r.series} (${r.fellBack} of ${r.total})`));
  if (fell.length) subtitle.push(`Requests fell back (KV released unread, prompt prefilled again on decode; outlined bars, marked \u201cfell back\u201d): ${fell.join(', ')}.`);
  const none = c.missing.map((m) => `${m.series}: no ${m.metric.startsWith('TTFT') ? 'completed request' : 'completed KV transfer'}`);
  if (none.length) subtitle.push(`Nothing to draw: ${none.join('; ')}.`);
  const panel = (metric: CompareRow['metric']): Json => {
    const rows = c.rows.filter((r) => r.metric === metric).map((r) => ({ ...r, valueText: `${fmtSeconds(r.s)}${r.fellBack > 0 ? ', fell back' : ''}` }));
    const lines = (opts.expiries ?? []).filter((l) => rows.some((r) => r.s >= l.s / 10));
    // Linear from zero: a bar's length is its value (on a log axis it would start nowhere); each bar says its value.
    const y = { field: 's', type: 'quantitative', title: `${metric === 'TTFT (mean)' ? 'time to first token, mean' : 'KV transfer time per request, mean'} (s)`, scale: { zero: true } };
    const x = { field: 'series', type: 'nominal', title: seriesTitleText, sort: series, scale: { domain: series }, axis: { labelAngle: 0 } };
    const gaps = c.missing.filter((m) => m.metric === metric).map((m) => ({ series: m.series, s: 0, valueText: metric === 'TTFT (mean)' ? 'none completed' : 'none completed (fell back)' }));
    return {
      title: { text: metric === 'TTFT (mean)' ? 'Time to first token' : 'KV transfer', anchor: 'middle', fontSize: 13 },
      width: Math.max(200, 90 * series.length),
      height: 300,
      layer: [
        {
          data: { values: rows },
          mark: { type: 'bar', width: { band: 0.7 } },
          encoding: {
            x,
            y,
            color: { field: 'series', type: 'nominal', title: seriesTitleText, sort: series, ...seriesScale(series) },
            stroke: { condition: { test: 'datum.fellBack > 0', value: '#111111' }, value: null },
            strokeWidth: { condition: { test: 'datum.fellBack > 0', value: 2.5 }, value: 0 },
            tooltip: [
              { field: 'series', title: seriesTitleText },
              { field: 'metric' },
              { field: 's', title: 'seconds', format: ',.4f' },
              { field: 'completed', title: 'requests completed' },
              { field: 'fellBack', title: 'requests fell back' },
            ],
          },
        },
        { data: { values: [...rows, ...gaps] }, mark: { type: 'text', baseline: 'bottom', dy: -3, fontSize: 11 }, encoding: { x, y, text: { field: 'valueText' } } },
        ...(lines.length ? thresholdLayers('s', lines) : []),
      ],
    };
  };
  return top(title(opts.title ?? `TTFT and KV transfer time per ${seriesTitleText}`, subtitle), {
    hconcat: [panel('TTFT (mean)'), panel('KV transfer (mean)')],
    spacing: 50,
    resolve: { scale: { y: 'independent', color: 'shared' } },
  });
}

/** Seconds with a sensible number of digits: 0.0123 s, 1.23 s, 123 s. */
function fmtSeconds(s: number): string {
  return `${Number(s.toPrecision(3)).toLocaleString('en-US', { maximumFractionDigits: 6 })} s`;
}
