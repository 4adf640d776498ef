/**
 * points.csv: a run's points as one table, a row per point, for a spreadsheet or pandas. The columns are summary.json's
 * leaves named by their paths there (`requests.completed`, `ttftMs.p95`, `kvTransfer.ms.p50`,
 * `utilisation.workers.decode-0`, `events.fell_back`), after `id` and the swept params (named by their own paths,
 * `workload.isl.mean`, as they are keyed in `params`). The columns are the union over the points, by section in the
 * canonical summary's order (src/spec/summary.ts), within a section in the order the points first have them (event kinds in
 * the event log's order), so the file's bytes depend only on the summary. A metric with
 * no samples (null in summary.json) and a column a point does not have (another point's worker) are empty cells; an
 * event count a point never logged is 0, as it is absent from its `events`. Lists (the TTFT CDF, bands' `varied`) are
 * left out. RFC 4180: comma-separated, a cell with a comma, quote or line break quoted, quotes doubled; "\n" ends lines.
 */
import { EVENT_KINDS } from '../spec/events.js';
import type { PointResult } from '../spec/experiment.js';
import { buildSummary, type Summary } from '../spec/summary.js';

export const POINTS_CSV_FILE = 'points.csv';

type Cell = string | number | boolean | null | undefined;

/** A cell's text: numbers as JSON writes them (so the CSV and summary.json agree digit for digit), nothing for null. */
function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** RFC 4180 quoting. */
export function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The point's leaves under `prefix`, in the object's order; lists are skipped. */
function leaves(v: unknown, prefix: string, out: Map<string, Cell>): void {
  if (Array.isArray(v)) return;
  if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) leaves(x, prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  out.set(prefix, v as Cell);
}

/** A point's cells by column name: id, params (by path), then every other leaf of its canonical form. */
function pointCells(p: PointResult): Map<string, Cell> {
  const out = new Map<string, Cell>();
  out.set('id', p.id);
  for (const [k, v] of Object.entries(p.params)) out.set(k, typeof v === 'object' && v !== null ? JSON.stringify(v) : (v as Cell));
  const { id: _id, params: _params, ...rest } = p;
  leaves(rest, '', out);
  return out;
}

/** points.csv's exact text for a summary. */
export function pointsCsv(summary: Summary): string {
  const points = buildSummary(summary.experiment, summary.seed, summary.points).points;
  const rows = points.map(pointCells);
  const paramKeys = new Set(points.flatMap((p) => Object.keys(p.params)));
  // Columns by section (id, params, requests, ttftMs, ..., events, durationS, extras) in the summary's order, each
  // section's columns in the order the points first have them, event kinds in the event log's order.
  const section = (k: string) => (paramKeys.has(k) || k === 'id' ? k : k.split('.')[0]!);
  const bySection = new Map<string, string[]>();
  for (const r of rows) {
    for (const k of r.keys()) {
      const s = section(k);
      const cols = bySection.get(s) ?? [];
      if (!cols.includes(k)) cols.push(k);
      bySection.set(s, cols);
    }
  }
  const known: readonly string[] = EVENT_KINDS;
  const rank = (k: string) => {
    const i = known.indexOf(k.slice('events.'.length));
    return i < 0 ? known.length : i;
  };
  const events = bySection.get('events');
  if (events) events.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const ordered = [...bySection.values()].flat();
  const lines = [ordered.map(csvCell).join(',')];
  for (const r of rows) {
    lines.push(
      ordered
        .map((k) => {
          if (!r.has(k) && section(k) === 'events') return '0';
          return csvCell(cellText(r.get(k)));
        })
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}
