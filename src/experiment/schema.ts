/**
 * The shape of an experiment file (YAML or JSON), with the defaults a file may leave out. Objects are strict: a
 * misspelt key is an error with a suggestion, never a silently ignored setting. Each leaf's message states only what
 * is expected; yaml-errors.ts appends what was found, giving `expected a whole number >= 1, got 0`.
 *
 * Rules that need other fields or the catalog (TP against KV heads, the node's transports, the context length) live in
 * check.ts; rules between fields of this file alone live in the refinements here.
 */
import { z } from 'zod';
import { FAULT_KINDS } from '../faults/injector.js';
import { unwrap } from './yaml-errors.js';

function whole(min: number) {
  const m = `expected a whole number >= ${min}`;
  return z.number({ error: m }).int({ error: m }).min(min, { error: m });
}

function positive() {
  const m = 'expected a number > 0';
  return z.number({ error: m }).positive({ error: m }).finite({ error: m });
}

function nonNegative() {
  const m = 'expected a number >= 0';
  return z.number({ error: m }).min(0, { error: m }).finite({ error: m });
}

function fraction() {
  const m = 'expected a number > 0 and <= 1';
  return z.number({ error: m }).positive({ error: m }).max(1, { error: m });
}

function probability() {
  const m = 'expected a probability from 0 to 1';
  return z.number({ error: m }).min(0, { error: m }).max(1, { error: m });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.map((v) => `'${v}'`).join(', ')}` });
}

const bool = () => z.boolean({ error: 'expected true or false' });

/** Catalog ids are checked against models/ in check.ts, where the did-you-mean can list the real ones. */
const catalogId = () => z.string({ error: 'expected a catalog id (nixlsim list ...)' }).min(1, { error: 'expected a catalog id (nixlsim list ...)' });

const text = () => z.string({ error: 'expected a non-empty string' }).min(1, { error: 'expected a non-empty string' });

export const MODES = ['disaggregated', 'aggregated'] as const;
export const ROUTERS = ['round-robin', 'least-loaded', 'kv-aware'] as const;
export const FAILURE_POLICIES = ['fallback', 'fail', 'retry'] as const;
export const PLACEMENTS = ['intra-pod', 'same-node', 'cross-node'] as const;
export const BANDWIDTHS = ['min', 'typical', 'max'] as const;
export const WORKLOAD_KINDS = ['closed-loop', 'poisson', 'trace'] as const;
export const TRACE_FORMATS = ['azure', 'mooncake'] as const;

/** Retries a 'retry' policy gets when the file does not say. */
export const DEFAULT_RETRIES = 2;

/** Requests measured when workload.requests is unset; a trace then replays every record (0). */
export const DEFAULT_REQUESTS = 100;

const workerGroup = z.strictObject({ workers: whole(1).default(1), tp: whole(1).default(1) }).prefault({});

/**
 * vLLM's defaults for `vllm serve` on the V1 engine: chunked prefill and prefix caching on, 16-token blocks,
 * gpu_memory_utilization 0.9, max_num_seqs 256 and max_num_batched_tokens 8192 (vLLM picks the last two by usage
 * context and GPU memory; these are its values for an API server on 80 GB-class GPUs in the builds we model).
 * activationReserveBytes is ours, not a vLLM argument: vLLM measures activation memory with a profiling run, which a
 * simulator cannot do, so 4 GB stands in for it.
 */
const engine = z
  .strictObject({
    maxNumBatchedTokens: whole(1).default(8192),
    maxNumSeqs: whole(1).default(256),
    blockSize: whole(1).default(16),
    gpuMemoryUtilization: fraction().default(0.9),
    activationReserveBytes: whole(0).default(4e9),
    prefixCaching: bool().default(true),
    chunkedPrefill: bool().default(true),
    /** --enforce-eager; vLLM's default is off (CUDA graphs), so unset stays unset. */
    enforceEager: bool().optional(),
  })
  .prefault({});

const expiry = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('abort-timeout'), timeoutS: positive() }),
    z
      .strictObject({ kind: z.literal('lease'), leaseS: positive(), heartbeatS: positive(), extendS: positive() })
      .superRefine((e, ctx) => {
        if (e.heartbeatS >= e.leaseS) {
          ctx.addIssue({ code: 'custom', path: ['heartbeatS'], message: `heartbeatS (${e.heartbeatS}) must be < leaseS (${e.leaseS}): a lease must see a heartbeat before it lapses` });
        }
      }),
  ],
  { error: "expected kind 'abort-timeout' (with timeoutS) or 'lease' (with leaseS, heartbeatS, extendS)" },
);

/**
 * Fields of the connector profile an experiment may override (the profile's error texts stay the build's own).
 * Expiry has its own key, deployment.expiry.
 */
const connectorOverrides = z.strictObject({
  tp: z
    .strictObject({ decodeWider: oneOf(['ok', 'rejected'] as const).optional(), prefillWider: oneOf(['ok', 'rejected', 'crash'] as const).optional() })
    .optional(),
  blockSize: z
    .strictObject({ rule: oneOf(['equal-only', 'decode-multiple'] as const).optional(), equalWhenPrefillWider: bool().optional() })
    .optional(),
  handshake: z
    .strictObject({ timeoutS: positive().nullable().optional(), onFailure: oneOf(['engine-dead', 'fail-requests'] as const).optional() })
    .optional(),
  kvLoadFailurePolicy: oneOf(['fail', 'recompute'] as const).nullable().optional(),
});

const deployment = z.strictObject({
  mode: oneOf(MODES),
  model: catalogId(),
  /** Defaults to the node's GPU (check.ts); naming a different one is an error, not a what-if. */
  gpu: catalogId().optional(),
  node: catalogId(),
  connector: catalogId(),
  transport: catalogId(),
  prefill: workerGroup,
  decode: workerGroup,
  aggregated: workerGroup,
  placement: oneOf(PLACEMENTS).default('cross-node'),
  router: oneOf(ROUTERS).default('round-robin'),
  engine,
  bandwidth: oneOf(BANDWIDTHS).default('typical'),
  failurePolicy: oneOf(FAILURE_POLICIES).default('fallback'),
  /** Unset: 0, or DEFAULT_RETRIES under the retry policy (resolved in load.ts, where the policy is known). */
  maxRetries: whole(0).optional(),
  expiry: expiry.optional(),
  connectorOverrides: connectorOverrides.optional(),
  /** Unset: the serving layer's default (the abort timeout); null: wait for ever. */
  kvLoadTimeoutS: positive().nullable().optional(),
});

const lengthDist = z.strictObject({ mean: whole(1).optional(), stddev: nonNegative().default(0) });

const trace = z.strictObject({
  format: oneOf(TRACE_FORMATS),
  path: text(),
  speedup: positive().default(1),
  limit: whole(1).optional(),
});

const workload = z
  .strictObject({
    kind: oneOf(WORKLOAD_KINDS),
    concurrency: whole(1).default(1),
    /** Unset: DEFAULT_REQUESTS, or 0 (every record) for a trace. */
    requests: whole(0).optional(),
    warmup: whole(0).default(0),
    rate: positive().default(1),
    isl: lengthDist.optional(),
    osl: lengthDist.optional(),
    trace: trace.optional(),
  })
  .superRefine((w, ctx) => {
    if (w.kind === 'trace') {
      if (w.trace === undefined) ctx.addIssue({ code: 'custom', path: ['trace'], message: "missing; expected { format, path } when workload.kind is 'trace'" });
      return;
    }
    for (const key of ['isl', 'osl'] as const) {
      if (w[key]?.mean === undefined) {
        ctx.addIssue({ code: 'custom', path: [key, 'mean'], message: `missing; expected a whole number >= 1 (required unless workload.kind is 'trace')` });
      }
    }
    if (w.requests === 0) {
      ctx.addIssue({ code: 'custom', path: ['requests'], message: "expected a whole number >= 1 (0, meaning every record, is for traces), got 0" });
    }
  });

/** Mirrors FaultSpec (src/faults/injector.ts) and the rules its validate() enforces, so a bad fault is caught with a position. */
const arrivals = { rate: nonNegative().optional(), at: z.array(nonNegative(), { error: 'expected a list of times in seconds' }).optional() };
const target = text();
const fault = z
  .discriminatedUnion(
    'kind',
    [
      z.strictObject({ kind: z.literal('connection_reset'), ...arrivals, probability: probability().optional(), target: target.optional() }),
      z.strictObject({ kind: z.literal('health_503'), ...arrivals, probability: probability().optional(), target: target.optional() }),
      z.strictObject({ kind: z.literal('link_down'), ...arrivals, durationS: nonNegative(), target }),
      z.strictObject({ kind: z.literal('worker_restart'), ...arrivals, downtimeS: nonNegative(), target }),
    ],
    { error: `expected kind ${FAULT_KINDS.map((k) => `'${k}'`).join(', ')}` },
  )
  .superRefine((f, ctx) => {
    const p = 'probability' in f ? f.probability : undefined;
    if (f.rate === undefined && f.at === undefined && p === undefined) {
      const how = f.kind === 'link_down' || f.kind === 'worker_restart' ? 'rate or at' : 'rate, probability or at';
      ctx.addIssue({ code: 'custom', path: ['kind'], message: `a ${f.kind} fault needs at least one of ${how}` });
    }
  });

const nameSchema = z
  .string({ error: 'expected a name of letters, digits, dots, dashes and underscores' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: 'expected a name of letters, digits, dots, dashes and underscores (it names the report directory)' });

export const experimentFileSchema = z.strictObject({
  /** Defaults to the file name (load.ts). */
  name: nameSchema.optional(),
  seed: whole(0).default(0),
  deployment,
  workload,
  faults: z.array(fault, { error: 'expected a list of faults' }).default([]),
  horizonS: positive().default(86400),
  /** Checked on its own before points are built (load.ts); listed here so that `sweeps:` gets a did-you-mean. */
  sweep: z.unknown().optional(),
});

export type ExperimentFile = z.output<typeof experimentFileSchema>;

/**
 * Every field path a sweep or --set may name, dotted: objects and leaves alike (sweeping `deployment.prefill` with
 * whole `{ workers, tp }` maps is allowed). Lists are leaves: their items are not addressable. `sweep` itself is not a
 * field of an experiment.
 */
export function fieldPaths(schema: z.ZodType = experimentFileSchema, prefix = ''): string[] {
  const s = unwrap(schema);
  const shapes: Record<string, z.ZodType>[] = [];
  if (s instanceof z.ZodObject) shapes.push(s.shape as Record<string, z.ZodType>);
  else if (s instanceof z.ZodDiscriminatedUnion) for (const o of s.options as z.ZodType[]) if (o instanceof z.ZodObject) shapes.push(o.shape as Record<string, z.ZodType>);
  const out: string[] = [];
  for (const shape of shapes) {
    for (const [key, child] of Object.entries(shape)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (path === 'sweep' || out.includes(path)) continue;
      out.push(path, ...fieldPaths(child, path).filter((p) => !out.includes(p)));
    }
  }
  return out;
}
