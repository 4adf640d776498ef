/**
 * `nixlsim fidelity`'s function: every published measurement record held against what the model computes for it.
 * Each distinct point is simulated once (several records share one), on worker threads like `run` (the results do not
 * depend on the thread count: each point carries its seed); a transfer record reads the estimate `nixlsim transfer`
 * computes. Per record: the modeled value, its error relative to the measured one, and whether it is within the
 * record's tolerance; per family, the mean absolute percentage error (MAPE).
 */
import { estimateHostCopy } from '../serving/host-tier.js';
import { defaultCatalog } from '../catalog/index.js';
import type { Catalog } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import { autoWorkers } from '../run/pool.js';
import { simulatePoints } from '../run/simulate.js';
import { pointLabel } from '../experiment/jobs.js';
import { shownPath } from '../experiment/yaml-errors.js';
import type { Point, PointResult } from '../spec/experiment.js';
import { estimateTransfer } from '../physics/estimate.js';
import { metricValue } from '../report/baseline.js';
import { valueAt } from '../experiment/yaml-errors.js';
import { defaultMeasurementsDir, loadMeasurements, type MeasurementRecord, type MeasurementSet } from './load.js';
import { FAMILIES, type Family } from './schema.js';

/** Simulates points and hands back their results in the same order. */
export type SimulatePointsFn = (points: Point[], catalog: Catalog) => Promise<PointResult[]>;

export interface FidelityOptions {
  /** Directory of measurement files; default models/measurements/. */
  dir?: string;
  /** Only records whose full id contains this text, or matches it as a glob when it has a `*`. */
  filter?: string;
  catalog?: Catalog;
  /** Worker threads; default one per core. */
  workers?: number;
  /** Replaces the simulation (tests). */
  simulate?: SimulatePointsFn;
}

export interface RecordResult {
  /** `<file id>/<record id>`. */
  id: string;
  source: string;
  metric: string;
  family: Family;
  unit: string;
  measured: number;
  /** What the model computes; null when it computes no number (NaN). */
  modeled: number | null;
  /** (modeled - measured) / measured x 100; null without a modeled number. */
  errorPct: number | null;
  tolerancePct: number;
  within: boolean;
  note?: string;
  /** What calibration fitted to this record. */
  fitted?: string;
  /** A known gap, and whether the error is still inside the bound it was given. */
  knownGap?: { maxErrorPct: number; why: string; held: boolean };
}

/** Whether a record fails `--strict`: outside its tolerance, unless it is a known gap still inside its stated bound. */
export function failsStrict(r: RecordResult): boolean {
  return !r.within && !(r.knownGap?.held ?? false);
}

export interface FamilyStats {
  /** Mean of |errorPct| over the family's records with a modeled number; null when there are none. */
  mape: number | null;
  records: number;
}

export interface FidelityReport {
  sets: MeasurementSet[];
  records: RecordResult[];
  families: Record<Family, FamilyStats>;
}

/** Whether a full record id passes `--filter`: contains the text, or with a `*` matches it as a glob (whole id). */
export function matchesFilter(id: string, filter: string): boolean {
  if (!filter.includes('*')) return id.includes(filter);
  const re = new RegExp(`^${filter.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(id);
}

/** (modeled - measured) / measured x 100. */
export function errorPct(modeled: number, measured: number): number {
  return ((modeled - measured) / measured) * 100;
}

/**
 * MAPE and record count per family, over the records that did not calibrate the model: a fitted record's error shows
 * the fit, not a prediction, and would flatter the mean.
 */
export function familyStats(records: readonly Pick<RecordResult, 'family' | 'errorPct' | 'fitted'>[]): Record<Family, FamilyStats> {
  const out = {} as Record<Family, FamilyStats>;
  for (const f of FAMILIES) {
    const of = records.filter((r) => r.family === f && r.fitted === undefined);
    const errs = of.map((r) => r.errorPct).filter((e): e is number => e !== null);
    out[f] = { mape: errs.length ? errs.reduce((s, e) => s + Math.abs(e), 0) / errs.length : null, records: of.length };
  }
  return out;
}

const defaultSimulate =
  (workers: number | undefined, labels: Map<Point, string>): SimulatePointsFn =>
  (points, catalog) =>
    simulatePoints(points, {
      catalog,
      workers: workers === undefined ? autoWorkers(points) : Math.min(workers, Math.max(1, points.length)),
      describePoint: (i) => labels.get(points[i]!) ?? `point ${points[i]!.id}`,
    });

/** Loads every measurement file, runs what the (filtered) records need, and compares. */
export async function runFidelity(opts: FidelityOptions = {}): Promise<FidelityReport> {
  const catalog = opts.catalog ?? defaultCatalog();
  const sets = loadMeasurements(opts.dir ?? defaultMeasurementsDir(), { catalog });
  const all = sets.flatMap((s) => s.records);
  const chosen = opts.filter === undefined ? all : all.filter((r) => matchesFilter(r.id, opts.filter!));
  if (chosen.length === 0) {
    throw new UserError(`matches none of the ${all.length} records (${all.map((r) => r.id).join(', ')}); give part of an id, or a glob with *`, `--filter ${opts.filter}`);
  }

  // Each distinct point once, in record order.
  const points = new Map<string, Point>();
  const labels = new Map<Point, string>();
  for (const r of chosen) {
    for (const t of [r.target, r.minus?.target]) {
      if (t === undefined || t.kind !== 'point' || points.has(t.key)) continue;
      points.set(t.key, t.point);
      labels.set(t.point, `${shownPath(r.file)}: point ${pointLabel(t.point.id, t.point.params)}`);
    }
  }
  const list = [...points.values()];
  const simulate = opts.simulate ?? defaultSimulate(opts.workers, labels);
  const results = list.length ? await simulate(list, catalog) : [];
  const byKey = new Map([...points.keys()].map((k, i) => [k, results[i]!]));

  const records = chosen.map((r) => compare(r, modeledValue(r, byKey)));
  return { sets, records, families: familyStats(records) };
}

function modeledValue(r: MeasurementRecord, results: Map<string, PointResult>): number {
  if (r.target.kind === 'transfer') return estimateTransfer(r.target.query)[r.metric as 'ms'];
  if (r.target.kind === 'copy') {
    const { gpu, spec } = r.target;
    return estimateHostCopy(gpu, spec.direction, spec.bytes, spec.blockBytes)[r.metric as 'ms'];
  }
  const v = pointValue(r.target, r.metric, r.metricWhere, results);
  return r.minus === undefined ? v : v - pointValue(r.minus.target, r.minus.metric, r.minus.metricWhere, results);
}

function pointValue(t: Extract<MeasurementRecord['target'], { kind: 'point' }>, metric: string, where: string, results: Map<string, PointResult>): number {
  const result = results.get(t.key)!;
  const v = metricValue(result, metric);
  // null in the summary: the point had no samples of it (no request completed); the record then has no modeled value.
  if (v === undefined && valueAt(result, metric.split('.')) === null) return Number.NaN;
  if (v === undefined) {
    throw new UserError(`metric '${metric}' is not in the result of point ${pointLabel(t.point.id, t.point.params)} (no such worker, link or event?)`, where);
  }
  return v;
}

function compare(r: MeasurementRecord, v: number): RecordResult {
  const modeled = Number.isFinite(v) ? v : null;
  const err = modeled === null ? null : errorPct(modeled, r.measured);
  const gap = r.knownGap;
  return {
    id: r.id,
    source: r.source,
    metric: r.minus === undefined ? r.metric : `${r.metric} - ${r.minus.metric} of ${Object.entries(r.minus.target.point.params).map(([k, v]) => `${k}=${String(v)}`).join(', ') || r.minus.target.point.id}`,
    family: r.family,
    unit: r.unit,
    measured: r.measured,
    modeled,
    errorPct: err,
    tolerancePct: r.tolerancePct,
    within: err !== null && Math.abs(err) <= r.tolerancePct,
    ...(r.note !== undefined ? { note: r.note } : {}),
    ...(r.fitted !== undefined ? { fitted: r.fitted } : {}),
    ...(gap !== undefined ? { knownGap: { ...gap, held: err !== null && Math.abs(err) <= gap.maxErrorPct } } : {}),
  };
}
