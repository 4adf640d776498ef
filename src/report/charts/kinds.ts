/**
 * The chart kinds as Vega-Lite specs: each a pure function from rows (data.ts) to a spec, so the same data always
 * gives the same spec. Layout follows one style: a 640 x 400 plot, a title with a subtitle saying how to read it,
 * axis titles with units, a legend wherever colour or dash carries a series.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Catalog } from '../../catalog/types.js';
import type { SensitivityResult } from '../../experiment/sensitivity.js';
import type { BreakevenRow, CdfRows, KvEstimateQuery, KvRow, TpCell, TtftRow } from './data.js';
import { crossoverIsl, kvTransferEstimateRows, paramText, profileOrder, tornadoRows } from './data.js';

export const CHART_KINDS = ['ttft-vs-isl', 'breakeven', 'kv-transfer', 'ttft-cdf', 'tp-matrix', 'transfer-curve'] as const;
export type ChartKind = (typeof CHART_KINDS)[number];

export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
export const WIDTH = 640;
export const HEIGHT = 400;
/** vLLM's VLLM_NIXL_ABORT_REQUEST_TIMEOUT before PR #25897 (the seeds' builds). */
export const DEFAULT_TIMEOUT_S = 120;

/** Outcome colours of the TP matrix: fixed, so a chart reads the same whichever outcomes it happens to show. */
export const OUTCOME_COLOURS = { ok: '#2e7d32', rejected: '#ef6c00', crash: '#c62828' } as const;
const TIMEOUT_COLOUR = '#c62828';
/** One colour per transport on every chart (tcp is never blue on one and green on the next). */
const TRANSPORT_COLOURS: Record<string, string> = {
  nvlink: '#76b900',
  'ib-rdma': '#4c78a8',
  'roce-rdma': '#f58518',
  'efa-libfabric': '#e45756',
  'efa-ucx': '#b279a2',
  'host-staged': '#72b7b2',
  tcp: '#54a24b',
};

/** A colour scale fixing the transports' colours when every series is a known transport id. */
function seriesScale(series: readonly string[]): Json {
  return series.length > 0 && series.every((s) => s in TRANSPORT_COLOURS) ? { scale: { domain: [...series], range: series.map((s) => TRANSPORT_COLOURS[s]) } } : {};
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

/** Layers drawing a dashed horizontal rule at `value` on field `field`, labelled under its right end (lines that cross
 * a timeout run above it). */
function thresholdLayers(field: string, value: number, label: string): Json[] {
  const data = { values: [{ [field]: value, label }] };
  const y = { field, type: 'quantitative' };
  return [
    { data, mark: { type: 'rule', color: TIMEOUT_COLOUR, strokeDash: [6, 4], size: 1.5 }, encoding: { y } },
    {
      data,
      mark: { type: 'text', color: TIMEOUT_COLOUR, align: 'right', baseline: 'top', x: 'width', dx: -4, dy: 4, fontSize: 12, fontWeight: 'bold' },
      encoding: { y, text: { field: 'label' } },
    },
  ];
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
  /** Where the abort-timeout rule goes (seconds). */
  timeoutS?: number;
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
  const timeoutS = opts.timeoutS ?? DEFAULT_TIMEOUT_S;
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
  const ys = valueScale([...data.map((r) => r.ttftS), ...banded.flatMap((r) => [r.loS!, r.hiS!]), ...(showTimeout ? [timeoutS] : [])]);
  const subtitle = [
    `Time to first token by input length, one line per ${opts.seriesTitle ?? 'transport'}; ` +
      (p95Differs ? 'solid: mean, dashed: p95.' : 'mean (p95 equals it at every point).') +
      ys.sentence,
  ];
  if (banded.length) subtitle.push(...bandSentences(opts.bandSamples ?? 0, banded, (r) => r.ttftS));
  if (fellBack.length) {
    subtitle.push(`Fell back (KV expired after ${timeoutS} s, prompt prefilled again on decode): ${fellBack.join(', ')}.`);
  }
  const x = { field: 'isl', type: 'quantitative', title: 'input length, ISL (tokens)', scale: { zero: false }, axis: { format: ',.0f' } };
  const y = { field: 'ttftS', type: 'quantitative', title: `time to first token (s${ys.axisNote})`, scale: ys.scale };
  const color = { field: 'series', type: 'nominal', title: opts.seriesTitle ?? 'transport', sort: series, ...seriesScale(series) };
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
    mark: { type: 'point', filled: true, size: 50 },
    encoding: { x, y, color, tooltip },
  };
  return top(title(opts.title ?? 'TTFT vs input length', subtitle), {
    width: WIDTH,
    height: HEIGHT,
    layer: [
      ...(banded.length ? [bandLayer(banded as unknown as Json[], x, 'ttftS', y, color, p95Differs ? 'stat' : undefined)] : []),
      lines,
      points,
      ...(showTimeout ? thresholdLayers('ttftS', timeoutS, `vLLM abort timeout (${timeoutS} s)`) : []),
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
  const color = { field: 'metric', type: 'nominal', title: 'ratio', scale: { domain: [TPUT, ITL], range: ['#1f77b4', '#ff7f0e'] } };
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
    { data: { values: long }, mark: { type: 'line', point: { filled: true, size: 50 } }, encoding: { x, y, color, ...dash, tooltip } },
  ];
  if (marked.length) {
    // A crossover in the right part of the plot is labelled on the rule's left, so the text stays inside the plot.
    const isls = rows.map((r) => r.isl);
    const [lo, hi] = [Math.min(...isls), Math.max(...isls)];
    const side = (isl: number) => (hi > lo && (isl - lo) / (hi - lo) > 0.6 ? 'left' : 'right');
    const values = marked.map((c) => ({ isl: c.isl, label: `crossover: ${crossText(c)}`, side: side(c.isl) }));
    layers.push(
      { data: { values }, mark: { type: 'rule', color: '#2e7d32', strokeDash: [4, 3], size: 1.5 }, encoding: { x: { field: 'isl', type: 'quantitative' } } },
      ...(['right', 'left'] as const).flatMap((where) => {
        const here = values.map((v, i) => ({ ...v, row: i })).filter((v) => v.side === where);
        if (!here.length) return [];
        const mark = { type: 'text', color: '#2e7d32', baseline: 'top', fontSize: 12, fontWeight: 'bold', align: where === 'right' ? 'left' : 'right', dx: where === 'right' ? 5 : -5 };
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
   * or a series has none). */
  timeoutS?: number;
  showTimeout?: boolean;
  /** Legend title of the series (default 'transport'). */
  seriesTitle?: string;
  /** Monte Carlo samples behind the rows' bands (loS, hiS), for the subtitle; the bands are drawn when rows have them. */
  bandSamples?: number;
}

/** One request's KV transfer time against context length per transport, log y. */
export function kvTransferSpec(rows: readonly KvRow[], opts: KvTransferOptions = {}): TopLevelSpec {
  const timeoutS = opts.timeoutS ?? DEFAULT_TIMEOUT_S;
  const noTransfer = opts.noTransfer ?? [];
  const show = opts.showTimeout ?? (noTransfer.length > 0 || rows.some((r) => r.s >= timeoutS / 10));
  const series = unique(rows.map((r) => r.series));
  const banded = rows.filter((r) => r.loS !== undefined && r.hiS !== undefined);
  const ys = valueScale([...rows.map((r) => r.s), ...banded.flatMap((r) => [r.loS!, r.hiS!]), ...(show ? [timeoutS] : [])]);
  const subtitle = [...(opts.subtitle ?? [`Mean time to move one request\u2019s KV cache from prefill to decode.${ys.sentence}`])];
  if (banded.length) subtitle.push(...bandSentences(opts.bandSamples ?? 0, banded, (r) => r.s));
  if (noTransfer.length) subtitle.push(`No transfer completed (the KV expired before decode read it): ${noTransfer.join(', ')}.`);
  const over = unique(rows.filter((r) => r.s > timeoutS).map((r) => r.series));
  if (show && over.length) subtitle.push(`Above the ${timeoutS} s abort timeout at some lengths: ${over.join(', ')}.`);
  const x = { field: 'tokens', type: 'quantitative', title: 'context length (tokens)', scale: { zero: false }, axis: { format: ',.0f' } };
  const y = { field: 's', type: 'quantitative', title: `KV transfer time per request (s${ys.axisNote})`, scale: ys.scale };
  const color = { field: 'series', type: 'nominal', title: opts.seriesTitle ?? 'transport', sort: series, ...seriesScale(series) };
  const layers: Json[] = [
    ...(banded.length ? [bandLayer(banded as unknown as Json[], x, 's', y, color)] : []),
    {
      data: { values: rows },
      mark: { type: 'line', point: { filled: true, size: 50 } },
      encoding: {
        x,
        y,
        color,
        tooltip: [{ field: 'series', title: opts.seriesTitle ?? 'transport' }, { field: 'tokens', format: ',' }, { field: 's', title: 'seconds', format: ',.4f' }],
      },
    },
  ];
  if (show) layers.push(...thresholdLayers('s', timeoutS, `vLLM abort timeout (${timeoutS} s)`));
  return top(title(opts.title ?? 'KV transfer time vs context length', subtitle), { width: WIDTH, height: HEIGHT, layer: layers });
}

// ---------------------------------------------------------------------------------------------------------------------

/** TTFT CDF per point: x TTFT ms (log), y fraction of requests. */
export function ttftCdfSpec(cdf: CdfRows, opts: { title?: string } = {}): TopLevelSpec {
  const xs = valueScale(cdf.rows.map((r) => r.ms));
  const subtitle = [`Fraction of requests whose first token came within x.${xs.sentence}` + (cdf.note ? ` Showing ${cdf.note}.` : '')];
  const spanOf = (point: string) => cdf.rows.filter((r) => r.point === point).map((r) => r.ms);
  const flat = unique(cdf.rows.map((r) => r.point)).filter((p) => Math.min(...spanOf(p)) === Math.max(...spanOf(p)));
  if (flat.length) subtitle.push(`A vertical line: every request of that point had the same TTFT${flat.length < unique(cdf.rows.map((r) => r.point)).length ? '' : ' (all points here)'}.`);
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
      ...(colours.length > 10 ? { scale: { scheme: 'tableau20' } } : seriesScale(colours)),
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
    mark: { type: 'line', strokeWidth: 2, interpolate: 'linear' },
    encoding,
  });
}

// ---------------------------------------------------------------------------------------------------------------------

/** An exception name too wide for a cell on two lines: NotImplementedError -> NotImplemented / Error. */
function cellText(text: string): string {
  return text.length > 13 && /[a-z]Error$/.test(text) ? `${text.slice(0, -5)}\nError` : text;
}

/** Prefill TP (rows) x decode TP (columns) outcome heatmap, one panel per connector profile. */
export function tpMatrixSpec(cells: readonly TpCell[], opts: { title?: string; subtitle?: string } = {}): TopLevelSpec {
  const ids = profileOrder(unique(cells.map((c) => c.connector)));
  const labels = ids.map((id) => cells.find((c) => c.connector === id)!.connectorLabel);
  const tps = unique(cells.map((c) => c.prefillTp)).sort((a, b) => a - b);
  const decodeTps = unique(cells.map((c) => c.decodeTp)).sort((a, b) => a - b);
  const step = 112;
  const outcome = { field: 'outcome', type: 'nominal' };
  const values = cells.map((c) => ({ ...c, cellText: cellText(c.text) }));
  return top(
    title(opts.title ?? 'Asymmetric TP: which prefill/decode pairs each vLLM build accepts', [
      opts.subtitle ??
        'Handshake outcome per connector profile (vLLM build). ok: READs per request; rejected: the handshake error; crash: what kills the engine.',
    ]),
    {
      data: { values },
      facet: { field: 'connectorLabel', type: 'nominal', title: null, sort: labels, header: { labelFontSize: 12, labelLimit: 0, labelExpr: "split(datum.value, '\\n')", labelLineHeight: 16 } },
      columns: 2,
      spacing: { row: 24, column: 40 },
      spec: {
        width: step * decodeTps.length,
        height: 44 * tps.length,
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
  const timeoutS = q.timeoutS ?? DEFAULT_TIMEOUT_S;
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
const END_COLOURS = { 'at min': '#4c78a8', 'at max': '#e45756' } as const;

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
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'blockSize', type: 'quantitative', title: 'block size (bytes)', scale: { type: 'log', base: 2 }, axis: { labelExpr: "datum.value >= 1073741824 ? datum.value / 1073741824 + 'G' : datum.value >= 1048576 ? datum.value / 1048576 + 'M' : datum.value >= 1024 ? datum.value / 1024 + 'K' : datum.value" } },
        y: { field: 'bandwidthGBps', type: 'quantitative', title: 'bandwidth (GB/s)', scale: { type: 'log' } },
        color: { field: 'transport', type: 'nominal', title: 'transport', sort: transports },
        tooltip: [{ field: 'transport' }, { field: 'blockText', title: 'block size' }, { field: 'bandwidthGBps', title: 'GB/s', format: '.3~g' }, { field: 'latencyUs', title: 'latency (us)', format: '.3~g' }],
      },
    },
  );
}
