/**
 * The capacity planner's chart: goodput per GPU against TTFT p95 (left) and ITL p95 (right), one point per
 * configuration at its maximum rate meeting the SLO; the Pareto front (TTFT p95 x goodput) joined by a solid line
 * through diamond marks, the recommended configuration ringed, and each p95 bound of the SLO a rule on its panel.
 * Its rows and options come from a plan (plan.json, src/plan/report.ts), not from a summary.
 */
import type { TopLevelSpec } from 'vega-lite';
import { CONFIG, TABLEAU10, VEGA_LITE_SCHEMA } from './kinds.js';

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
  /** The ITL p95 bound, ms, drawn as a rule on the ITL panel. */
  itlSloMs?: number;
  /** SLO terms no panel has an axis for (`e2e_p95_ms<=9000`, `ttft_p50_ms<=500`): named in the subtitle. */
  otherSlo?: string[];
  /** What stopped the recommended configuration at the next rate: the broken terms (`itl_p95`) and that rate. */
  recommendedLimit?: { bound: string[]; rate: number | null };
  /** The same for the best configuration of each mode (the verdict's two), named. */
  modeLimits?: { mode: string; short: string; bound: string[]; rate: number | null }[];
}

const MODE_COLOURS = { aggregated: TABLEAU10[0], disaggregated: TABLEAU10[1] } as const;
const LIMIT_COLOUR = '#222222';
const FRONT = 'Pareto front';
const OTHER = 'other configurations';
const PANEL_WIDTH = 440;
const PANEL_HEIGHT = 380;

export function paretoSpec(rows: readonly ParetoRow[], opts: ParetoOptions = {}): TopLevelSpec {
  const y = { field: 'goodputPerGpu', type: 'quantitative', title: 'goodput per GPU (req/s per GPU meeting the SLO)', scale: { zero: true } };
  const modes = (['aggregated', 'disaggregated'] as const).filter((m) => rows.some((r) => r.mode === m));
  const color = { field: 'mode', type: 'nominal', title: 'mode', scale: { domain: modes, range: modes.map((m) => MODE_COLOURS[m]) } };
  const shape = { field: 'set', type: 'nominal', title: null, scale: { domain: [FRONT, OTHER], range: ['diamond', 'circle'] } };
  const size = { condition: { test: 'datum.pareto', value: 150 }, value: 50 };
  const tooltip = [
    { field: 'label', title: 'configuration' },
    { field: 'maxRate', title: 'max rate (req/s)', format: ',.3f' },
    { field: 'goodputPerGpu', title: 'goodput per GPU', format: ',.3f' },
    { field: 'ttftP95Ms', title: 'TTFT p95 (ms)', format: ',.0f' },
    { field: 'itlP95Ms', title: 'ITL p95 (ms)', format: ',.1f' },
    { field: 'set', title: 'set' },
  ];
  const byTtft = (a: ParetoRow, b: ParetoRow) => a.ttftP95Ms - b.ttftP95Ms || a.goodputPerGpu - b.goodputPerGpu;
  const values = rows.map((r) => ({ ...r, set: r.pareto ? FRONT : OTHER }));
  const front = values.filter((r) => r.pareto).sort(byTtft);
  const labelled = values.filter((r) => r.labelled).sort(byTtft);
  const bound = new Set(opts.recommendedLimit?.bound ?? []);
  const panel = (field: 'ttftP95Ms' | 'itlP95Ms', sloMs: number | undefined, term: string): Record<string, unknown> => {
    const what = field === 'ttftP95Ms' ? 'TTFT p95' : 'ITL p95';
    const x = { field, type: 'quantitative', title: `${what} at the maximum rate (ms)`, scale: { zero: false, padding: 16 } };
    const layers: Record<string, unknown>[] = [];
    if (field === 'ttftP95Ms' && front.length > 1) {
      layers.push({
        data: { values: front.map((r, i) => ({ ...r, order: i })) },
        mark: { type: 'line', color: '#333333', strokeWidth: 2.5 },
        encoding: { x, y, order: { field: 'order', type: 'quantitative' } },
      });
    }
    layers.push(
      {
        data: { values },
        mark: { type: 'point', filled: true, opacity: 0.9, stroke: '#222222', strokeWidth: 0.6 },
        encoding: { x, y, color, shape, size, tooltip },
      },
      {
        data: { values: values.filter((r) => r.recommended) },
        mark: { type: 'point', filled: false, color: '#111111', size: 480, strokeWidth: 2 },
        encoding: { x, y },
      },
    );
    if (field === 'ttftP95Ms') {
      // Names left and right of their points in turn (by TTFT), so neighbours do not print over each other.
      layers.push(
        ...[0, 1].map((k) => ({
          data: { values: labelled.filter((_, i) => i % 2 === k) },
          mark: { type: 'text', align: k === 0 ? 'right' : 'left', baseline: 'middle', dx: k === 0 ? -13 : 13, fontSize: 11, color: '#222222' },
          encoding: { x, y, text: { field: 'short' } },
        })),
      );
    }
    if (sloMs !== undefined) {
      // Who this bound stops: the recommended configuration, else the best of a mode.
      const who = bound.has(term) ? ['the recommended'] : (opts.modeLimits ?? []).filter((m) => m.bound.includes(term)).map((m) => `${m.mode} ${m.short}`);
      const binds = who.length > 0;
      const data = { values: [{ [field]: sloMs, text: `SLO: ${what} <= ${sloMs} ms${binds ? ` (limits ${who.join(', ')})` : ''}` }] };
      layers.push(
        { data, mark: { type: 'rule', color: LIMIT_COLOUR, strokeDash: [6, 4], size: binds ? 2.5 : 1.5 }, encoding: { x: { field, type: 'quantitative' } } },
        {
          data,
          // At the foot of the rule, away from the best configurations, which sit high in the plot.
          mark: { type: 'text', color: LIMIT_COLOUR, align: 'right', baseline: 'bottom', dx: -5, y: 'height', dy: -6, fontSize: 12, fontWeight: 'bold' },
          encoding: { x: { field, type: 'quantitative' }, text: { field: 'text' } },
        },
      );
    }
    return { width: PANEL_WIDTH, height: PANEL_HEIGHT, title: { text: `goodput per GPU vs ${what}`, anchor: 'middle', fontSize: 13 }, layer: layers };
  };
  const limit = opts.recommendedLimit;
  const subtitle = [
    ...(opts.context ? [opts.context] : []),
    'Each point: one configuration at the highest rate where it meets every SLO term. Up and to the left is better on both panels.',
    'Solid line through diamonds: the Pareto front (nothing else has both more goodput per GPU and a lower TTFT p95). Named: the front and the best of each mode. Ringed: recommended.',
    ...(limit && limit.bound.length
      ? [`What stops the recommended configuration at the next rate${limit.rate !== null ? ` (${limit.rate} req/s)` : ''}: ${limit.bound.join(', ')}.`]
      : []),
    ...(opts.modeLimits && opts.modeLimits.length
      ? [`Best of each mode, and the SLO term that stops it: ${opts.modeLimits.map((m) => `${m.mode} ${m.short}: ${m.bound.join(', ') || 'none (search ceiling)'}`).join('; ')}.`]
      : []),
    ...(opts.otherSlo && opts.otherSlo.length ? [`SLO terms with no axis here (met by every point drawn): ${opts.otherSlo.join(', ')}.`] : []),
  ];
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: opts.title ?? 'Capacity plan: goodput per GPU vs TTFT p95 and ITL p95', subtitle },
    hconcat: [panel('ttftP95Ms', opts.ttftSloMs, 'ttft_p95'), panel('itlP95Ms', opts.itlSloMs, 'itl_p95')],
    spacing: 40,
    resolve: { scale: { y: 'shared' } },
    config: CONFIG,
  } as unknown as TopLevelSpec;
}
