/**
 * The experiment file's schema as the loader and experiments/schema.json use it: the document's own shape is
 * src/spec/experiment-schema.ts (re-exported here); this module adds the field paths a sweep or --set may name and the
 * `expect:` entries.
 */
import { z } from 'zod';
import { experimentFileSchema, nonNegative, text } from '../spec/experiment-schema.js';
import type { AutoscaleResult, PointResult, Stats } from '../spec/experiment.js';
import { unwrap } from '../yaml/schema-keys.js';

// What the loader and the commands' flags share with the document's schema.
export { BANDWIDTHS, DEFAULT_REQUESTS, DEFAULT_RETRIES, experimentFileSchema, LIMITS, PLACEMENTS, positive, whole } from '../spec/experiment-schema.js';

/** Top-level keys that are not fields of an experiment: not sweepable, not settable, read by load.ts on their own. */
export const NON_FIELD_KEYS = ['sweep', 'extends', 'expect'] as const;

/**
 * Every field path a sweep or --set may name, dotted: objects and leaves alike (sweeping `deployment.prefill` with
 * whole `{ workers, tp }` maps is allowed), the fields of each map form of a union included (workload.rate.diurnal.meanRate).
 * Lists are leaves: their items are not addressable. `sweep`, `extends` and `expect` are not fields of an experiment.
 */
export function fieldPaths(schema: z.ZodType = experimentFileSchema, prefix = ''): string[] {
  const out: string[] = [];
  for (const shape of shapesOf(schema)) {
    for (const [key, child] of Object.entries(shape)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if ((NON_FIELD_KEYS as readonly string[]).includes(path) || out.includes(path)) continue;
      out.push(path, ...fieldPaths(child, path).filter((p) => !out.includes(p)));
    }
  }
  return out;
}

/** The schema of the field at a dotted path (one of fieldPaths()), wrappers included; undefined for no such field. */
export function fieldSchema(path: string, schema: z.ZodType = experimentFileSchema): z.ZodType | undefined {
  let cur: z.ZodType | undefined = schema;
  for (const seg of path.split('.')) {
    cur = shapesOf(cur)
      .map((sh) => sh[seg])
      .find((c) => c !== undefined);
    if (!cur) return undefined;
  }
  return cur;
}

/**
 * The object shapes a schema stands for, wrappers aside: an object's, or each map option's of a union (a discriminated
 * one, or a plain one such as workload.rate: a number, { steps } or { diurnal }).
 */
function shapesOf(schema: z.ZodType): Record<string, z.ZodType>[] {
  const s = unwrap(schema);
  if (s instanceof z.ZodObject) return [s.shape as Record<string, z.ZodType>];
  if (s instanceof z.ZodUnion) return (s.options as z.ZodType[]).map(unwrap).flatMap((o) => (o instanceof z.ZodObject ? [o.shape as Record<string, z.ZodType>] : []));
  return [];
}

/** Whether the field at a dotted path (one of fieldPaths()) is a list: set and swept whole, its items not addressable. */
export function isListField(path: string): boolean {
  const field = fieldSchema(path);
  return field !== undefined && unwrap(field) instanceof z.ZodArray;
}

/**
 * The forms of a field that takes maps of different shapes as a plain union does (workload.rate: { steps } or
 * { diurnal }), each as its keys; undefined for any other field. A discriminated union is not one: its options share
 * the discriminator, and the value's own says which applies.
 */
export function fieldForms(path: string): string[][] | undefined {
  const field = fieldSchema(path);
  const s = field && unwrap(field);
  if (!(s instanceof z.ZodUnion) || s instanceof z.ZodDiscriminatedUnion) return undefined;
  return shapesOf(s).map((shape) => Object.keys(shape));
}

/**
 * A copy of `value` whose maps list their keys in the schema's order (a union's value in its own option's order), and
 * keys the schema does not have after those, as they were (a group's resolved engine): the loader spreads zod's output
 * and puts the fields it resolves over it, and this makes the result read in the order of the file format.
 */
export function inSchemaOrder<T>(value: T, schema: z.ZodType = experimentFileSchema): T {
  const s = unwrap(schema);
  if (Array.isArray(value)) return (s instanceof z.ZodArray ? value.map((v: unknown) => inSchemaOrder(v, s.element as z.ZodType)) : value) as T;
  if (value === null || typeof value !== 'object') return value;
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v);
  const shared = (shape: Record<string, z.ZodType>) => keys.filter((k) => k in shape).length;
  const shape = shapesOf(s).reduce<Record<string, z.ZodType>>((best, sh) => (shared(sh) > shared(best) ? sh : best), {});
  const out: Record<string, unknown> = {};
  for (const [k, child] of Object.entries(shape)) if (k in v) out[k] = inSchemaOrder(v[k], child);
  for (const k of keys) if (!(k in out)) out[k] = v[k];
  return out as T;
}

// ---------------------------------------------------------------------------------------------------------------------
// expect: measured values a point's results must reproduce

/**
 * The metrics of a point result (PointResult in src/spec/experiment.ts, the summary.json contract) an expectation or a baseline can
 * name, as dotted paths. `satisfies` makes the compiler flag a field experiment.ts adds or drops.
 */
const STAT_KEYS = { mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, min: 0, max: 0 } satisfies Record<keyof Stats, 0>;
const REQUEST_KEYS = { total: 0, completed: 0, failed: 0, fellBack: 0, inFlight: 0, stale: 0 } satisfies Record<keyof PointResult['requests'], 0>;
const THROUGHPUT_KEYS = { outputTokensPerS: 0, requestsPerS: 0 } satisfies Record<keyof PointResult['throughput'], 0>;
const KV_KEYS = { bytesMean: 0, ms: STAT_KEYS, effectiveGBps: 0 } satisfies Record<keyof PointResult['kvTransfer'], unknown>;
/** Maps keyed by worker, link or event name: a metric names one entry, `utilisation.workers.decode-0`. */
const UTILISATION_KEYS = { workers: 0, kvPoolPeak: 0, links: 0 } satisfies Record<keyof PointResult['utilisation'], 0>;
/**
 * An autoscaled point's headline numbers (with an autoscale section only). The SLO is the file's, not a result; the
 * time series is a list; peakWorkers is a map by role: `autoscale.peakWorkers.decode`.
 */
const AUTOSCALE_KEYS = {
  target: null,
  gpuHours: 0,
  slo: null,
  sloAttainment: 0,
  metSlo: 0,
  ended: 0,
  scaleUps: 0,
  scaleDowns: 0,
  peakWorkers: null,
  series: null,
} satisfies Record<keyof AutoscaleResult, unknown>;
const RESULT_KEYS = {
  id: null,
  params: null,
  requests: REQUEST_KEYS,
  ttftMs: STAT_KEYS,
  itlMs: STAT_KEYS,
  e2eMs: STAT_KEYS,
  queueMs: STAT_KEYS,
  kvTransfer: KV_KEYS,
  throughput: THROUGHPUT_KEYS,
  utilisation: null,
  events: null,
  durationS: 0,
  ttftCdfMs: null,
  // Monte Carlo bands (run --uncertainty) are not pinned or baselined: the nominal numbers are the point's result.
  bands: null,
  expiry: null,
  // Only when prompts carry block hashes or with deployment.engine.kvOffload, so not a metric every point has.
  prefixCache: null,
  // With deployment.conditionalDisagg only.
  conditionalDisagg: null,
  // With workload.sessions only: a list by turn number.
  turns: null,
  // With an autoscale section only: a point without one has none of these.
  autoscale: AUTOSCALE_KEYS,
} satisfies Record<keyof PointResult, unknown>;

function leaves(tree: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v === 0) return [path];
    return v !== null && typeof v === 'object' ? leaves(v as Record<string, unknown>, path) : [];
  });
}

/** Every fixed numeric metric of a point result, in summary.json order: requests.completed, ttftMs.p50, ... */
export const METRIC_PATHS: readonly string[] = leaves(RESULT_KEYS);

/**
 * Maps of a point result whose entries are metrics named by a key the run decides (a worker, a link, an event kind, an
 * autoscaled role).
 */
export const METRIC_MAPS: readonly string[] = [...Object.keys(UTILISATION_KEYS).map((k) => `utilisation.${k}`), 'events', 'autoscale.peakWorkers'];

const tolerance = z
  .strictObject({
    relative: nonNegative().optional().describe('Allowed difference as a fraction of the expected value: 0.1 is 10%.'),
    absolute: nonNegative().optional().describe("Allowed difference in the metric's own unit."),
  })
  .superRefine((t, ctx) => {
    if (t.relative === undefined && t.absolute === undefined) {
      ctx.addIssue({ code: 'custom', path: [], message: 'expected { relative: <fraction> } or { absolute: <amount> }, or both (the value passes if either holds)' });
    }
  })
  .describe('How far the result may be from the value: relative (a fraction of it), absolute (in its unit) or both; it passes if either holds.');

export const expectEntrySchema = z
  .strictObject({
    point: z
      .record(z.string(), z.unknown(), { error: 'expected a map from swept paths to values, e.g. { workload.isl.mean: 8000 }' })
      .optional()
      .describe('The points it applies to: those whose params include these swept paths and values. Omit for every point.'),
    metric: text().describe('A metric of the point result (summary.json), dotted: ttftMs.min, itlMs.mean, throughput.outputTokensPerS, requests.failed, events.kv_blocks_expired, ...'),
    value: z.number({ error: 'expected a number (the measured value)' }).describe('The measured value.'),
    tolerance,
    source: text().describe('Where the value was measured: a seed, a table, a log.'),
  })
  .describe('A metric pinned to a measured value: `nixlsim check` fails when a point it applies to is outside the tolerance.');

export const expectListSchema = z
  .array(expectEntrySchema, { error: 'expected a list of expectations, each { point, metric, value, tolerance, source }' })
  .describe('Measured values the results must reproduce, checked by `nixlsim check`. Not inherited through extends.');

export type ExpectEntry = z.output<typeof expectEntrySchema>;
