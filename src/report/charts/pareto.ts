/**
 * The capacity planner's chart: goodput per GPU against TTFT p95, one point per configuration at its maximum rate
 * meeting the SLO, the Pareto front drawn through the configurations nothing beats on both, the recommended one
 * ringed, and the TTFT SLO as a rule. A standalone spec builder (not a summary chart kind): its rows come from a plan.
 */
import type { TopLevelSpec } from 'vega-lite';
import { CONFIG, HEIGHT, VEGA_LITE_SCHEMA, WIDTH } from './kinds.js';

export interface ParetoRow {
  id: string;
  /** Short name drawn next to labelled points: `8 x TP1`, `6P TP1 + 2D TP1`. */
  short: string;
  label: string;
  mode: 'aggregated' | 'disaggregated';
  ttftP95Ms: number;
  goodputPerGpu: number;
  maxRate: number;
  itlP95Ms: number;
  pareto: boolean;
  recommended: boolean;
  /** Draw its name: the front, and the best of each mode, say. */
  labelled: boolean;
}

export interface ParetoOptions {
  title?: string;
  /** First subtitle line: what was planned. */
  context?: string;
  /** The TTFT p95 bound, ms, drawn as a rule (omit when the SLO has none). */
  ttftSloMs?: number;
}

const MODE_COLOURS = { aggregated: '#4c78a8', disaggregated: '#e45756' } as const;

export function paretoSpec(rows: readonly ParetoRow[], opts: ParetoOptions = {}): TopLevelSpec {
  const x = { field: 'ttftP95Ms', type: 'quantitative', title: 'TTFT p95 at the maximum rate (ms)', scale: { zero: false, padding: 16 } };
  const y = { field: 'goodputPerGpu', type: 'quantitative', title: 'goodput per GPU (req/s per GPU meeting the SLO)', scale: { zero: true } };
  const modes = (['aggregated', 'disaggregated'] as const).filter((m) => rows.some((r) => r.mode === m));
  const color = { field: 'mode', type: 'nominal', title: 'mode', scale: { domain: modes, range: modes.map((m) => MODE_COLOURS[m]) } };
  const tooltip = [
    { field: 'label', title: 'configuration' },
    { field: 'maxRate', title: 'max rate (req/s)', format: ',.3f' },
    { field: 'goodputPerGpu', title: 'goodput per GPU', format: ',.3f' },
    { field: 'ttftP95Ms', title: 'TTFT p95 (ms)', format: ',.0f' },
    { field: 'itlP95Ms', title: 'ITL p95 (ms)', format: ',.1f' },
  ];
  const byTtft = (a: ParetoRow, b: ParetoRow) => a.ttftP95Ms - b.ttftP95Ms || a.goodputPerGpu - b.goodputPerGpu;
  const front = rows.filter((r) => r.pareto).sort(byTtft);
  const labelled = rows.filter((r) => r.labelled).sort(byTtft);
  const layers: Record<string, unknown>[] = [
    {
      data: { values: front.map((r, i) => ({ ...r, order: i })) },
      mark: { type: 'line', color: '#555555', strokeDash: [5, 3], strokeWidth: 1.5 },
      encoding: { x, y, order: { field: 'order', type: 'quantitative' } },
    },
    {
      data: { values: rows },
      mark: { type: 'point', filled: true, opacity: 0.85 },
      encoding: { x, y, color, size: { condition: { test: 'datum.pareto', value: 110 }, value: 45 }, tooltip },
    },
    {
      data: { values: rows.filter((r) => r.recommended) },
      mark: { type: 'point', filled: false, color: '#111111', size: 420, strokeWidth: 2 },
      encoding: { x, y },
    },
    // Names left and right of their points in turn (by TTFT), so neighbours do not print over each other.
    ...[0, 1].map((k) => ({
      data: { values: labelled.filter((_, i) => i % 2 === k) },
      mark: { type: 'text', align: k === 0 ? 'right' : 'left', baseline: 'middle', dx: k === 0 ? -13 : 13, fontSize: 11, color: '#222222' },
      encoding: { x, y, text: { field: 'short' } },
    })),
  ];
  if (opts.ttftSloMs !== undefined) {
    const data = { values: [{ ttftP95Ms: opts.ttftSloMs, text: `SLO: TTFT p95 <= ${opts.ttftSloMs} ms` }] };
    layers.push(
      { data, mark: { type: 'rule', color: '#c62828', strokeDash: [6, 4], size: 1.5 }, encoding: { x: { field: 'ttftP95Ms', type: 'quantitative' } } },
      {
        data,
        // At the foot of the rule, away from the best configurations, which sit high in the plot.
        mark: { type: 'text', color: '#c62828', align: 'right', baseline: 'bottom', dx: -5, y: 'height', dy: -6, fontSize: 12, fontWeight: 'bold' },
        encoding: { x: { field: 'ttftP95Ms', type: 'quantitative' }, text: { field: 'text' } },
      },
    );
  }
  const subtitle = [
    ...(opts.context ? [opts.context] : []),
    'Each point: one configuration at the highest rate where it meets every SLO term. Up and to the left is better.',
    'Dashed line: the Pareto front (nothing else has both more goodput per GPU and a lower TTFT p95).',
    'Named: the front and the best of each mode. Ringed: recommended.',
  ];
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: opts.title ?? 'Capacity plan: goodput per GPU vs TTFT p95', subtitle },
    width: WIDTH,
    height: HEIGHT,
    layer: layers,
    config: CONFIG,
  } as unknown as TopLevelSpec;
}
