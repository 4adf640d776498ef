/**
 * Which charts a summary supports, and writing them: <kind>.vl.json (the spec, 2-space JSON), <kind>.svg and
 * <kind>.png. Every chart is rendered before any file is written, and the files go out together through
 * writeOutputs (temporary files, then renames), so a reader never sees half a chart or half a set.
 */
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { defaultCatalog } from '../../catalog/index.js';
import type { Catalog } from '../../catalog/types.js';
import { writeOutputs, type OutputFile } from '../output.js';
import type { Summary } from '../summary.js';
import {
  bandSamples,
  breakevenRows,
  CONNECTOR,
  ISL,
  kvTransferRowsFromSummary,
  MODE,
  seriesTitle,
  sweeps,
  tpMatrixRows,
  transferCurveRows,
  TRANSPORT,
  ttftCdfRows,
  ttftVsIslRows,
} from './data.js';
import { breakevenSpec, CHART_KINDS, type ChartKind, kvTransferSpec, tpMatrixSpec, transferCurveSpec, ttftCdfSpec, ttftVsIslSpec } from './kinds.js';

export interface ChartOptions {
  /** The kinds to draw; default: every kind the summary's sweep supports (applicableKinds). */
  kinds?: readonly ChartKind[];
  /** For tp-matrix (default: the built-in catalog). */
  catalog?: Catalog;
  /** Abort timeout the TTFT and KV charts draw, seconds (default 120). */
  timeoutS?: number;
  /** Most lines in the TTFT CDF (default 12). */
  maxCdfLines?: number;
  /** Told about each requested kind that has no data in the summary, and why. */
  onSkip?: (kind: ChartKind, reason: string) => void;
}

/** What a kind needs from a sweep, said to a user when it is missing. */
const NEEDS: Record<ChartKind, string> = {
  'ttft-vs-isl': `needs ${ISL} and ${TRANSPORT} swept, with completed requests`,
  breakeven: `needs ${ISL} and ${MODE} swept, both modes at some ISL, with output tokens`,
  'kv-transfer': `needs ${ISL} and ${TRANSPORT} swept, with completed KV transfers`,
  'ttft-cdf': 'needs a point with completed requests and a TTFT CDF (ttftCdfMs)',
  'tp-matrix': `needs ${CONNECTOR} swept (or ask for it by --kind)`,
  'transfer-curve': 'is drawn from the catalog alone, when asked for by --kind',
};

/** The kinds a summary's sweep calls for: ttft-cdf always, the others by what the sweep varies. */
export function applicableKinds(summary: Summary): ChartKind[] {
  const out: ChartKind[] = [];
  if (sweeps(summary, ISL, TRANSPORT)) out.push('ttft-vs-isl');
  if (sweeps(summary, ISL, MODE)) out.push('breakeven');
  if (sweeps(summary, ISL, TRANSPORT)) out.push('kv-transfer');
  out.push('ttft-cdf');
  if (sweeps(summary, CONNECTOR)) out.push('tp-matrix');
  return out;
}

/** The spec of one kind for a summary, or null when the summary has no data for it. */
export function chartSpec(kind: ChartKind, summary: Summary, opts: ChartOptions = {}): TopLevelSpec | null {
  const timeoutS = opts.timeoutS;
  const named = (t: string) => `${t} (${summary.experiment})`;
  switch (kind) {
    case 'ttft-vs-isl': {
      if (!sweeps(summary, ISL)) return null;
      const rows = ttftVsIslRows(summary);
      const banded = { bandSamples: bandSamples(summary) };
      return rows.length ? ttftVsIslSpec(rows, { title: named('TTFT vs input length'), seriesTitle: seriesTitle(summary), ...banded, ...(timeoutS !== undefined ? { timeoutS } : {}) }) : null;
    }
    case 'breakeven': {
      if (!sweeps(summary, ISL, MODE)) return null;
      const rows = breakevenRows(summary);
      return rows.length ? breakevenSpec(rows, { title: named('Disaggregated vs aggregated by input length') }) : null;
    }
    case 'kv-transfer': {
      if (!sweeps(summary, ISL)) return null;
      const { rows, noTransfer } = kvTransferRowsFromSummary(summary);
      if (!rows.length) return null;
      return kvTransferSpec(rows, {
        title: named('KV transfer time vs context length'),
        seriesTitle: seriesTitle(summary),
        noTransfer,
        bandSamples: bandSamples(summary),
        ...(timeoutS !== undefined ? { timeoutS } : {}),
      });
    }
    case 'ttft-cdf': {
      const cdf = ttftCdfRows(summary, opts.maxCdfLines ?? 12);
      return cdf.rows.length ? ttftCdfSpec(cdf, { title: named('TTFT distribution (CDF)') }) : null;
    }
    case 'tp-matrix':
      return tpMatrixSpec(tpMatrixRows(opts.catalog ?? defaultCatalog()));
    case 'transfer-curve':
      return transferCurveSpec(transferCurveRows(opts.catalog ?? defaultCatalog()));
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
  return writeOutputs(await chartOutputs(dir, name, spec, flag));
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
  return writeOutputs(await renderCharts(summary, outDir, opts));
}
