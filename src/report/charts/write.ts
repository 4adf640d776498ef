/**
 * Which charts a summary supports, and writing them: <kind>.vl.json (the spec, 2-space JSON), <kind>.svg and
 * <kind>.png. Every chart is rendered before any file is written, and the files go out together through
 * writeOutputs (temporary files, then renames), so a reader never sees half a chart or half a set.
 */
import { autoscaleRows, autoscaleSpec } from './autoscale.js';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { defaultCatalog } from '../../catalog/index.js';
import type { Catalog } from '../../spec/catalog.js';
import { writeOutputs, type OutputFile } from '../../spec/output.js';
import type { Summary } from '../../spec/summary.js';
import {
  bandSamples,
  breakevenRows,
  expiryLines,
  ISL,
  kvTransferRowsFromSummary,
  MODE,
  seriesTitle,
  sweptPaths,
  sweeps,
  tpMatrixRows,
  transferCurveRows,
  transportCompareRows,
  TRANSPORT,
  ttftCdfRows,
  ttftVsIslRows,
  valuesOf,
} from './data.js';
import {
  breakevenSpec,
  CHART_KINDS,
  type ChartKind,
  kvTransferSpec,
  tpMatrixSpec,
  transferCurveSpec,
  transportCompareSpec,
  ttftCdfSpec,
  ttftVsIslSpec,
} from './kinds.js';

export interface ChartOptions {
  /** The kinds to draw; default: every kind the summary's sweep supports (applicableKinds). */
  kinds?: readonly ChartKind[];
  /** For tp-matrix, and the expiry of points from summaries that do not record it (default: the built-in catalog). */
  catalog?: Catalog;
  /**
   * One abort timeout for the TTFT and KV charts to draw, seconds, instead of the points' own (each point's connector
   * profile's expiry, one line per distinct value).
   */
  timeoutS?: number;
  /** Most lines in the TTFT CDF (default 12). */
  maxCdfLines?: number;
  /** Told about each requested kind that has no data in the summary, and why. */
  onSkip?: (kind: ChartKind, reason: string) => void;
}

/** What a kind needs from a sweep, said to a user when it is missing. */
export const NEEDS: Record<ChartKind, string> = {
  'ttft-vs-isl': `needs ${ISL} swept, with completed requests`,
  breakeven: `needs ${ISL} and ${MODE} swept, both modes at some ISL, with output tokens`,
  'kv-transfer': `needs ${ISL} swept, with disaggregated points`,
  'transport-compare': `needs disaggregated points with completed requests or KV transfers (drawn by default when ${TRANSPORT} is swept)`,
  'ttft-cdf': 'needs a point with completed requests and a TTFT CDF (ttftCdfMs)',
  'tp-matrix': 'is drawn when a TP (deployment.prefill.tp, deployment.decode.tp, ...) is swept, or when asked for by --kind',
  'transfer-curve': 'is drawn from the catalog alone, when asked for by --kind',
  tornado: 'is drawn from a sensitivity.json (`nixlsim sensitivity`), not a summary',
  pareto: 'is drawn from a plan.json (`nixlsim plan`), not a summary',
  autoscale: 'needs points run with an autoscale section (summary.json autoscale.series)',
};

/** Whether the sweep varies a tensor-parallel size (any swept path ending in `tp`, with two values or more). */
export function sweepsTp(summary: Summary): boolean {
  return sweptPaths(summary).some((k) => /(^|\.)tp$/.test(k) && valuesOf(summary.points, k).length > 1);
}

/**
 * The kinds a summary's sweep calls for: ttft-cdf always; ttft-vs-isl for any sweep over ISL (also ISL x mode);
 * kv-transfer for ISL x transport; transport-compare when the transport varies; tp-matrix only when a TP varies.
 */
export function applicableKinds(summary: Summary): ChartKind[] {
  const out: ChartKind[] = [];
  // Varied: swept with two values or more (a sweep of one ISL is a single length, not a curve).
  const varied = (path: string) => sweeps(summary, path) && valuesOf(summary.points, path).length > 1;
  const transports = varied(TRANSPORT);
  if (varied(ISL)) out.push('ttft-vs-isl');
  if (sweeps(summary, ISL, MODE)) out.push('breakeven');
  if (varied(ISL) && transports) out.push('kv-transfer');
  if (transports) out.push('transport-compare');
  out.push('ttft-cdf');
  if (sweepsTp(summary)) out.push('tp-matrix');
  if (summary.points.some((p) => p.autoscale !== undefined)) out.push('autoscale');
  return out;
}

/** The spec of one kind for a summary, or null when the summary has no data for it. */
export function chartSpec(kind: ChartKind, summary: Summary, opts: ChartOptions = {}): TopLevelSpec | null {
  const timeoutS = opts.timeoutS;
  const catalog = opts.catalog ?? defaultCatalog();
  const named = (t: string) => `${t} (${summary.experiment})`;
  // The run's own abort / lease lines, from the points charted (or one at --timeout's value).
  const limits = (points: Summary['points']) => (timeoutS !== undefined ? { timeoutS } : { expiries: expiryLines(points.filter((p) => p.params[MODE] !== 'aggregated'), catalog) });
  switch (kind) {
    case 'ttft-vs-isl': {
      if (!sweeps(summary, ISL)) return null;
      const rows = ttftVsIslRows(summary);
      const banded = { bandSamples: bandSamples(summary) };
      return rows.length ? ttftVsIslSpec(rows, { title: named('TTFT vs input length'), seriesTitle: seriesTitle(summary), ...banded, ...limits(summary.points) }) : null;
    }
    case 'breakeven': {
      if (!sweeps(summary, ISL, MODE)) return null;
      const rows = breakevenRows(summary);
      return rows.length ? breakevenSpec(rows, { title: named('Disaggregated vs aggregated by input length') }) : null;
    }
    case 'kv-transfer': {
      if (!sweeps(summary, ISL)) return null;
      const { rows, fellBack, noTransfer } = kvTransferRowsFromSummary(summary, catalog);
      if (!rows.length && !fellBack.length) return null;
      return kvTransferSpec(rows, {
        title: named('KV transfer time vs context length'),
        seriesTitle: seriesTitle(summary),
        noTransfer,
        fellBack,
        bandSamples: bandSamples(summary),
        ...limits(summary.points),
      });
    }
    case 'transport-compare': {
      const c = transportCompareRows(summary);
      if (!c.rows.length) return null;
      const here = summary.points.filter((p) => c.isl === null || p.params[ISL] === c.isl);
      const l = limits(here);
      return transportCompareSpec(c, {
        title: named(`TTFT and KV transfer time per ${c.seriesTitle}`),
        seriesTitle: c.seriesTitle,
        expiries: 'expiries' in l ? l.expiries : [{ s: l.timeoutS, kind: 'abort-timeout', connectors: [], label: `vLLM abort timeout (${l.timeoutS} s)` }],
      });
    }
    case 'ttft-cdf': {
      const cdf = ttftCdfRows(summary, opts.maxCdfLines ?? 12);
      return cdf.rows.length ? ttftCdfSpec(cdf, { title: named('TTFT distribution (CDF)') }) : null;
    }
    case 'tp-matrix':
      return tpMatrixSpec(tpMatrixRows(catalog));
    case 'transfer-curve':
      return transferCurveSpec(transferCurveRows(catalog));
    case 'autoscale': {
      const rows = autoscaleRows(summary);
      return rows.rows.length ? autoscaleSpec(rows, { title: named('Load, workers and TTFT over time') }) : null;
    }
    case 'tornado':
    case 'pareto':
      return null;
  }
}

/** The spec's file text: 2-space JSON with a final newline (the same spec always gives the same bytes). */
export function specJson(spec: TopLevelSpec): string {
  return `${JSON.stringify(spec, null, 2)}\n`;
}

/** A chart's three files, rendered, for writeOutputs: <name>.vl.json, <name>.svg and <name>.png in dir. */
export async function chartOutputs(dir: string, name: string, spec: TopLevelSpec, flag?: string): Promise<OutputFile[]> {
  // vega, vega-lite and resvg load only when a chart is drawn: a quarter of a second every other command saves.
  const { renderChart } = await import('./render.js');
  const { svg, png } = await renderChart(spec);
  const f = (file: string, data: string | Uint8Array): OutputFile => ({ path: join(dir, file), data, ...(flag !== undefined ? { flag } : {}) });
  return [f(`${name}.vl.json`, specJson(spec)), f(`${name}.svg`, svg), f(`${name}.png`, png)];
}

/** Writes <name>.vl.json, <name>.svg and <name>.png into dir, all or none; returns their paths. */
export async function writeChart(dir: string, name: string, spec: TopLevelSpec, flag?: string): Promise<string[]> {
  return writeOutputs(await chartOutputs(dir, name, spec, flag), { dir });
}

/**
 * The files of the charts a summary calls for (or the kinds asked for, where the summary has their data), rendered
 * but not written. A kind without data is skipped (and reported through onSkip when it was asked for).
 */
export async function renderCharts(summary: Summary, outDir: string, opts: ChartOptions & { flag?: string } = {}): Promise<OutputFile[]> {
  const kinds = opts.kinds ? CHART_KINDS.filter((k) => opts.kinds!.includes(k)) : applicableKinds(summary);
  const files: OutputFile[] = [];
  for (const kind of kinds) {
    const spec = chartSpec(kind, summary, opts);
    if (spec === null) {
      opts.onSkip?.(kind, `no data for ${kind} in this summary: it ${NEEDS[kind]}`);
      continue;
    }
    files.push(...(await chartOutputs(outDir, kind, spec, opts.flag)));
  }
  return files;
}

/** Renders the charts (renderCharts), then writes them into outDir all or none; returns the files written. */
export async function writeCharts(summary: Summary, outDir: string, opts: ChartOptions & { flag?: string } = {}): Promise<string[]> {
  return writeOutputs(await renderCharts(summary, outDir, opts), { dir: outDir });
}
