import { defaultCatalog } from '../catalog/load.js';
import type { Catalog } from '../spec/catalog.js';
import { describeDeployment, loadDeployment, measuredPoint, modeledValue, type MeasuredRunOptions } from '../experiment/measured.js';
import { SimulationPool } from '../run/pool.js';
import { simulatePoints } from '../run/simulate.js';
import type { PointResult } from '../spec/experiment.js';
import { readMeasurements, type ReadOptions } from '../measure/read.js';
import { MEASURED_METRICS, measuredValue, statisticOf, type MeasuredMetric, type MeasuredPoint, type Statistic } from '../measure/types.js';
import { boundOf, deploymentBounds } from './bounds.js';
import { hypotheses } from './hypotheses.js';
import { DEFAULT_TOLERANCE, explains, impossibleCauses, judge, type Cause, type Verdict } from './verdict.js';

/**
 * `nixlsim audit`: every measured value against the physical bound and the model. Reads the measurements, models
 * each run as a closed loop on the experiment's deployment (on the worker pool), judges each metric (verdict.ts),
 * and for the slower ones simulates the alternative hypotheses (hypotheses.ts) and names those that reach the
 * measured value. Deterministic: the same files and seed give the same report.
 */
export interface AuditOptions extends MeasuredRunOptions {
  /** The deployment's experiment file. */
  experiment: string;
  set?: string[];
  seed?: number;
  catalog?: Catalog;
  /** Relative tolerance of `consistent` (default DEFAULT_TOLERANCE). */
  tolerance?: number;
  /** Worker threads (default 1: in this thread). */
  workers?: number;
  read?: ReadOptions;
}

/** One measured metric of one point: the JSON contract's entry, with where it came from after the contract's keys. */
export interface AuditEntry {
  row: number;
  metric: MeasuredMetric;
  measured: number;
  bound: number;
  /** null when the model completed no request of the point. */
  modeled: number | null;
  verdict: Verdict;
  causes: Cause[];
  file: string;
  line: number;
  isl: number;
  osl: number;
  concurrency: number;
  /** ms, or tokens/s for throughput. */
  unit: 'ms' | 'tokens/s';
  /** The statistic compared (mean unless the file had only a percentile). */
  statistic: Statistic;
}

export interface AuditReport {
  experiment: string;
  deployment: string;
  tolerance: number;
  points: AuditEntry[];
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

/** Expiry fallbacks a run logged: prefill released the blocks and decode recomputed the prompt. */
function expiries(r: PointResult): number {
  return (r.events['kv_blocks_expired'] ?? 0) + (r.events['fell_back'] ?? 0);
}

export async function audit(files: readonly string[], o: AuditOptions): Promise<AuditReport> {
  const catalog = o.catalog ?? defaultCatalog();
  const tolerance = o.tolerance ?? DEFAULT_TOLERANCE;
  const base = loadDeployment(o.experiment, { ...(o.set ? { set: o.set } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}), catalog });
  // Rows that timed only a KV transfer (calibrate's input) have no serving metric to audit.
  const measured: MeasuredPoint[] = files.flatMap((f) => readMeasurements(f, o.read)).filter((m) => MEASURED_METRICS.some((k) => measuredValue(m, k) !== undefined));
  const run: MeasuredRunOptions = { ...(o.requests !== undefined ? { requests: o.requests } : {}), ...(o.warmup !== undefined ? { warmup: o.warmup } : {}) };
  const points = measured.map((m, i) => measuredPoint(base, m, catalog, run, `m${i}`));
  const where = (m: MeasuredPoint) => `${m.file}:${m.line}: row ${m.row}`;
  // One set of threads for both batches (the measured points, then the hypotheses), started before the first so that
  // they load meanwhile, and stopped however the audit ends. Only for more than one point: one runs in this thread.
  const workers = o.workers ?? 1;
  const pool = workers > 1 && points.length > 1 ? new SimulationPool({ workers, catalog }) : undefined;
  try {
    const results = await simulatePoints(points, { catalog, workers, ...(pool ? { pool } : {}), describePoint: (i) => where(measured[i]!) });

    // First pass: bounds, modeled values and verdicts, one list of entries per measured point.
    const perPoint: AuditEntry[][] = measured.map((m, i) => {
      const bounds = deploymentBounds(base.deployment, catalog, m);
      const out: AuditEntry[] = [];
      for (const metric of MEASURED_METRICS) {
        const value = measuredValue(m, metric);
        if (value === undefined) continue;
        const stat = statisticOf(m, metric);
        const modeled = modeledValue(results[i]!, metric, stat);
        const bound = boundOf(bounds, metric);
        const j = judge(metric, value, bound, modeled, tolerance);
        const causes: Cause[] = [];
        if (j.verdict === 'impossible') causes.push(...impossibleCauses(metric));
        if (j.faster) {
          causes.push({ cause: 'faster-than-modeled', detail: `better than the model by more than ${round(tolerance * 100, 1)}% yet possible: the model is pessimistic here (its efficiency factors: nixlsim calibrate; or more capacity than the experiment describes)` });
        }
        if (modeled === null) {
          causes.push({ cause: 'model-fails-requests', detail: 'the model completes no request of this deployment (a TP pair the connector rejects or crashes on?)' });
        }
        out.push({
          row: m.row,
          metric,
          measured: value,
          bound: round(bound),
          modeled: modeled === null ? null : round(modeled),
          verdict: j.verdict,
          causes,
          file: m.file,
          line: m.line,
          isl: m.isl,
          osl: m.osl,
          concurrency: m.concurrency,
          unit: metric === 'throughput' ? 'tokens/s' : 'ms',
          statistic: stat,
        });
      }
      return out;
    });

    // Second pass: the hypotheses of every point with a slower metric, simulated together, and the causes they explain.
    const slow = perPoint.flatMap((es, i) => (es.some((x) => x.verdict === 'slower') ? [i] : []));
    const hyps = slow.flatMap((i) => hypotheses(points[i]!, catalog, run).map((h) => ({ owner: i, ...h })));
    const hypResults = await simulatePoints(
      hyps.map((h) => h.point),
      { catalog, workers, ...(pool ? { pool } : {}), describePoint: (k) => `${where(measured[hyps[k]!.owner]!)} (${hyps[k]!.cause} hypothesis)` },
    );
    for (const i of slow) {
      const mine = hyps.flatMap((h, k) => (h.owner === i ? [{ ...h, result: hypResults[k]! }] : []));
      for (const entry of perPoint[i]!) {
        if (entry.verdict !== 'slower') continue;
        let expired = expiries(results[i]!) > 0;
        const named: Cause[] = [];
        for (const h of mine) {
          const v = modeledValue(h.result, entry.metric, entry.statistic);
          if (v === null || !explains(entry.metric, entry.measured, v, tolerance)) continue;
          named.push({ cause: h.cause, detail: h.detail, modeled: round(v) });
          if (expiries(h.result) > 0) expired = true;
        }
        // Closest first: a hypothesis that lands on the measured value explains it more simply than one that overshoots
        // and needs only a fraction of the requests affected.
        const distance = (c: Cause) => Math.abs(Math.log(c.modeled! / entry.measured));
        entry.causes.push(...named.sort((a, b) => distance(a) - distance(b)));
        if (expired) {
          entry.causes.push({
            cause: 'expiry-fallback',
            detail: "transfers outlast vLLM's abort timeout: prefill releases the blocks (\"Releasing expired KV blocks\") and decode prefills again",
          });
        }
      }
    }
    return { experiment: base.name, deployment: describeDeployment(base.deployment), tolerance, points: perPoint.flat() };
  } finally {
    await pool?.close();
  }
}
