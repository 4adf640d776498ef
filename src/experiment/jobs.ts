/**
 * What a simulation is asked and what it gives back, whoever runs it (this thread or the worker pool, src/run/): a job
 * (a point, at its nominal figures or with some catalog figures replaced) and its outcome; and how a point reads in
 * messages and tables.
 */
import type { SimulateOverrides } from '../serving/simulate.js';
import type { Point, PointResult } from '../spec/experiment.js';

/** One simulation: a point, at its nominal figures or with some replaced (then without its event log). */
export interface Job {
  point: Point;
  overrides?: SimulateOverrides;
}

/** A point's event log as plain data: the kept lines, oldest first, and how many events there were in all. */
export interface LogBlock {
  lines: string[];
  /** Events emitted, of all kinds (lines.length + dropped). */
  total: number;
  /** Lines no longer kept because the log's ring was full. */
  dropped: number;
}

/** What simulating one point gives: its result and, from the real simulator, its event log. */
export interface PointOutcome {
  result: PointResult;
  log?: LogBlock;
}

/** Most swept fields live under deployment.; the prefix is noise in a table (summary.json keeps full paths). */
export function shortPath(path: string): string {
  return path.startsWith('deployment.') ? path.slice('deployment.'.length) : path;
}

export function valueText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A point's id and its swept values (`p003 prefill.tp=2 transport=tcp`), as failures and the run table name it. */
export function pointLabel(id: string, params: Record<string, unknown>): string {
  const ps = Object.entries(params).map(([k, v]) => `${shortPath(k)}=${valueText(v)}`);
  return [id, ...ps].join(' ');
}
