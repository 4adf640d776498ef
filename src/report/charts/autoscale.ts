/**
 * The autoscaling chart: three panels over simulated time, one above the other on a shared time axis: the offered
 * rate, the workers of each role holding GPUs (provisioning, serving or draining), and the TTFT p95 of each interval
 * against the SLO's TTFT bound. One colour per point (fixed fleet against the planner, say), one dash per role. Its
 * rows come from the autoscale section of summary.json (src/serving/autoscale.ts).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Summary } from '../../spec/summary.js';
import { distinguishing, labelOf } from './data.js';
import { CONFIG, SCHEME, VEGA_LITE_SCHEMA, WIDTH } from './kinds.js';

export interface AutoscaleRow {
  /** The point's label (its distinguishing params, else its id). */
  point: string;
  /** Minutes from the start (the end of the series bucket). */
  min: number;
  rate: number | null;
  role: string;
  workers: number;
  ttftP95Ms: number | null;
}

export interface AutoscaleRows {
  rows: AutoscaleRow[];
  /** Per point: GPU-hours and SLO attainment, for the subtitle. */
  totals: { point: string; gpuHours: number; attainment: number | null }[];
  sloTtftMs: number | null;
}

/** The rows of every point that ran with an autoscale section (one per bucket and role). */
export function autoscaleRows(summary: Summary): AutoscaleRows {
  const pts = summary.points.filter((p) => p.autoscale !== undefined);
  const paths = distinguishing(pts, []);
  const rows: AutoscaleRow[] = [];
  const totals: AutoscaleRows['totals'] = [];
  let sloTtftMs: number | null = null;
  for (const p of pts) {
    const a = p.autoscale!;
    const point = labelOf(p, paths) || p.id;
    sloTtftMs ??= a.slo.ttftMs;
    totals.push({ point, gpuHours: a.gpuHours, attainment: a.sloAttainment });
    for (const s of a.series) {
      for (const [role, workers] of Object.entries(s.workers)) rows.push({ point, min: s.tS / 60, rate: s.rate, role, workers, ttftP95Ms: s.ttftP95Ms });
    }
  }
  return { rows, totals, sloTtftMs };
}

const PANEL_HEIGHT = 150;

export function autoscaleSpec(r: AutoscaleRows, opts: { title?: string } = {}): TopLevelSpec {
  const points = [...new Set(r.rows.map((x) => x.point))];
  const roles = [...new Set(r.rows.map((x) => x.role))];
  const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);
  const subtitle = [
    'Top: offered rate; middle: workers of each role holding GPUs (provisioning, serving or draining); bottom: TTFT p95 of the requests that completed in each interval (log scale), the dashed rule the SLO.',
    r.totals.map((t) => `${t.point}: ${t.gpuHours.toFixed(2)} GPU-hours, ${pct(t.attainment)} of requests within the SLO`).join('; ') + '.',
  ];
  const x = { field: 'min', type: 'quantitative', title: 'time (minutes)' };
  const colour = { field: 'point', type: 'nominal', title: 'point', sort: points, scale: { scheme: SCHEME } };
  const first = r.rows.filter((row) => row.role === roles[0]);
  const ratePanel = {
    height: PANEL_HEIGHT,
    width: WIDTH,
    data: { values: first.filter((row) => row.rate !== null) },
    mark: { type: 'line', interpolate: 'monotone' },
    encoding: { x, y: { field: 'rate', type: 'quantitative', title: 'offered rate (req/s)' }, color: colour },
  };
  const workersPanel = {
    height: PANEL_HEIGHT,
    width: WIDTH,
    data: { values: r.rows },
    mark: { type: 'line', interpolate: 'step-before' },
    encoding: {
      x,
      y: { field: 'workers', type: 'quantitative', title: 'workers', axis: { tickMinStep: 1 } },
      color: colour,
      strokeDash: { field: 'role', type: 'nominal', title: 'role', sort: roles, scale: { domain: roles, range: [[1, 0], [6, 3], [2, 2]].slice(0, roles.length) } },
      detail: { field: 'role' },
    },
  };
  const ttft = first.filter((row) => row.ttftP95Ms !== null && row.ttftP95Ms > 0);
  const ttftPanel = {
    height: PANEL_HEIGHT,
    width: WIDTH,
    layer: [
      {
        data: { values: ttft },
        mark: { type: 'line', point: { size: 12 } },
        encoding: { x, y: { field: 'ttftP95Ms', type: 'quantitative', title: 'TTFT p95 (ms, log)', scale: { type: 'log' } }, color: colour },
      },
      ...(r.sloTtftMs !== null
        ? [{ data: { values: [{ slo: r.sloTtftMs }] }, mark: { type: 'rule', strokeDash: [6, 4], color: '#222222' }, encoding: { y: { field: 'slo', type: 'quantitative' } } }]
        : []),
    ],
  };
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: opts.title ?? 'Load, workers and TTFT over time', subtitle },
    vconcat: [ratePanel, workersPanel, ttftPanel],
    resolve: { scale: { color: 'shared' } },
    config: CONFIG,
  } as unknown as TopLevelSpec;
}
