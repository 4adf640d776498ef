/**
 * summary.json: one run's results, the file baselines, charts and the regression check read. Its bytes depend only on
 * its content: every object is rebuilt here in the order of src/spec/experiment.ts (never the order a producer
 * happened to insert keys in), maps keyed by name are sorted, and the file is replaced atomically so a reader never
 * sees half of one.
 */
import type { MaybeStats, PointResult } from './experiment.js';
import { byCodePoint, canonical } from './canonical.js';
import { EVENT_KINDS } from './events.js';
import { writeFileAtomic } from './output.js';

export const SUMMARY_SCHEMA_VERSION = 1;
export const SUMMARY_FILE = 'summary.json';

export interface Summary {
  schemaVersion: typeof SUMMARY_SCHEMA_VERSION;
  /** The experiment's name. */
  experiment: string;
  seed: number;
  points: PointResult[];
}

/** Names with numbers in them (`decode-10`, `rail-2`) in the order a reader counts: rail-2 before rail-10. */
function natural(a: string, b: string): number {
  const split = (s: string) => s.split(/(\d+)/);
  const pa = split(a);
  const pb = split(b);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    // Odd pieces are the digit runs split() captured.
    if (i % 2 === 1) return Number(x) - Number(y) || byCodePoint(x, y);
    return byCodePoint(x, y);
  }
  return pa.length - pb.length || byCodePoint(a, b);
}

function sortedRecord<T>(r: Record<string, T>, order: (a: string, b: string) => number = natural): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(r).sort(order)) out[k] = r[k]!;
  return out;
}

/** A latency summary in contract order; no samples is null in every field. */
function stats(s: MaybeStats): MaybeStats {
  if (s.mean === null) return { mean: null, p50: null, p90: null, p95: null, p99: null, min: null, max: null };
  return { mean: s.mean, p50: s.p50, p90: s.p90, p95: s.p95, p99: s.p99, min: s.min, max: s.max };
}

/** Event counts in the event log's own order (the order its docs and tables use), unknown kinds after, sorted. */
function events(e: Record<string, number>): Record<string, number> {
  const known: readonly string[] = EVENT_KINDS;
  const out: Record<string, number> = {};
  for (const k of known) if (k in e) out[k] = e[k]!;
  for (const k of Object.keys(e).filter((k) => !known.includes(k)).sort(byCodePoint)) out[k] = e[k]!;
  return out;
}

const POINT_KEYS = ['id', 'params', 'requests', 'ttftMs', 'itlMs', 'e2eMs', 'queueMs', 'kvTransfer', 'throughput', 'utilisation', 'events', 'durationS'];

function point(r: PointResult): PointResult {
  const q = r.requests;
  const out: PointResult = {
    id: r.id,
    // Sweep order, not sorted: it is the order of the experiment file, and the one the points were expanded in.
    params: Object.fromEntries(Object.entries(r.params).map(([k, v]) => [k, canonical(v)])),
    requests: { total: q.total, completed: q.completed, failed: q.failed, fellBack: q.fellBack, inFlight: q.inFlight, stale: q.stale },
    ttftMs: stats(r.ttftMs),
    itlMs: stats(r.itlMs),
    e2eMs: stats(r.e2eMs),
    queueMs: stats(r.queueMs),
    kvTransfer: { bytesMean: r.kvTransfer.bytesMean, ms: stats(r.kvTransfer.ms), effectiveGBps: r.kvTransfer.effectiveGBps },
    throughput: { outputTokensPerS: r.throughput.outputTokensPerS, requestsPerS: r.throughput.requestsPerS },
    utilisation: {
      workers: sortedRecord(r.utilisation.workers),
      kvPoolPeak: sortedRecord(r.utilisation.kvPoolPeak),
      links: sortedRecord(r.utilisation.links),
    },
    events: events(r.events),
    durationS: r.durationS,
  };
  // Extras a simulator adds beyond the contract are kept (experiment.ts allows them), after it, in sorted order.
  const extras = Object.keys(r).filter((k) => !POINT_KEYS.includes(k)).sort(byCodePoint);
  for (const k of extras) (out as unknown as Record<string, unknown>)[k] = canonical((r as unknown as Record<string, unknown>)[k]);
  return out;
}

export function buildSummary(name: string, seed: number, results: PointResult[]): Summary {
  return { schemaVersion: SUMMARY_SCHEMA_VERSION, experiment: name, seed, points: results.map(point) };
}

/** The file's exact text: 2-space JSON of the summary in canonical order, with a final newline. NaN becomes null. */
export function summaryJson(summary: Summary): string {
  return `${JSON.stringify(buildSummary(summary.experiment, summary.seed, summary.points), null, 2)}\n`;
}

/**
 * Writes <dir>/summary.json, creating dir. The text goes to a temporary file first and is renamed over the old one,
 * so a crash or a full disk leaves the previous summary (or none), never a truncated one. Returns the file's path.
 */
export function writeSummary(dir: string, summary: Summary): string {
  return writeFileAtomic(dir, SUMMARY_FILE, summaryJson(summary));
}
