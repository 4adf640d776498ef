/**
 * An experiment as the simulator sees it after the file has been read, validated and defaulted (src/experiment/load.ts)
 * and a sweep expanded into points. Paths named in the issue are contracts: name, seed, deployment.*, workload.*, sweep.
 *
 * The zod schema in experiment-schema.ts is the one source of the experiment's shape and of what each field means (its
 * descriptions are what experiments/schema.json and the docs show). The types here are inferred from it: a file as
 * validated is ExperimentFile (zod's output: defaults applied); the resolved Experiment is that with the few fields
 * the loader fills in from the catalog or from other fields, which are all that is written out below.
 */
import type { z } from 'zod';
import type { ExpiryModel } from './catalog.js';
import type { PointBands } from './bands.js';
import type { experimentFileSchema } from './experiment-schema.js';

/**
 * How a vLLM worker lays out and registers its KV cache with NIXL, which sets how many descriptors a READ carries
 * (vLLM's NixlConnector registers one NIXL region per KV cache tensor and posts one descriptor per region per block):
 *   - HND: FlashAttention's cache, K and V separate tensors per layer (2 regions a layer, 1 for MLA), each block's
 *     heads outermost, so a decode rank reading a slice of a wider prefill rank's heads (or a share of a narrower
 *     one's) still reads one contiguous piece per block (vllm-project/vllm PR #18833; what vLLM forces when TP differs);
 *   - NHD: the same tensors with tokens outermost in a block: when the TPs differ a rank's heads of a block are
 *     `blockSize` separate pieces, one descriptor each (the first heterogeneous-TP design, vllm-project/vllm PR #18079,
 *     dropped in #18833 for that descriptor count); equal TPs read whole blocks as HND does;
 *   - flashinfer: FlashInfer's cache, K and V of a block together, one region a layer: 1 descriptor a layer per block
 *     with equal TPs, K and V apart (2) when they differ (a head slice of K and of V);
 *   - cross-layer: one region for the whole cache, each block holding every layer's K and V (vllm-project/vllm PR
 *     #30207, RFC #27742): 1 descriptor per block with equal TPs (Qwen3-0.6B, one 16-token block: 56 descriptors a
 *     transfer before, 1 after); when the TPs differ, a head slice of each layer's K and V, as HND.
 */
export const KV_LAYOUTS = ['HND', 'NHD', 'flashinfer', 'cross-layer'] as const;
export type KvLayout = (typeof KV_LAYOUTS)[number];

/**
 * A KV block's content hash, as prefix caching finds blocks by (vLLM chains each block's hash to its parent's). The
 * workloads make numbers (a Map keyed by small integers is a third faster than by strings on the Mooncake trace);
 * strings are for tests and stand-ins. Two blocks with equal hashes hold the same tokens.
 */
export type BlockHash = number | string;

/**
 * vLLM's --kv-cache-dtype: 'auto' stores the KV cache in the model's own KV dtype (the catalog's kvDtype), 'fp8' in FP8
 * (E4M3 on CUDA), one byte an element. vLLM also takes 'fp8_e4m3' and 'fp8_e5m2', and hashes the flag's own text into
 * the NixlConnector's compatibility hash; nixlsim takes 'fp8' alone (what vLLM's docs and Dynamo's recipes set).
 */
export const KV_CACHE_DTYPES = ['auto', 'fp8'] as const;
export type KvCacheDtype = (typeof KV_CACHE_DTYPES)[number];

/**
 * Which of DeepEP's all-to-all kernels an expert-parallel worker runs (vLLM's VLLM_ALL2ALL_BACKEND): the
 * high-throughput ("normal") kernels, deepep_high_throughput, for prefill; the low-latency ones, deepep_low_latency,
 * for decode (vLLM docs/serving/expert_parallel_deployment.md, Backend Selection Guide and Disaggregated Serving).
 */
export const ALL_TO_ALL_MODES = ['high-throughput', 'low-latency'] as const;
export type AllToAllMode = (typeof ALL_TO_ALL_MODES)[number];

/**
 * Dynamo's KV router settings where deployment.routerConfig (or a key of it) is unset: Dynamo v1.0.0's defaults for
 * `python -m dynamo.frontend` (docs.nvidia.com/dynamo/v1.0.0/additional-resources/frontend-configuration-reference:
 * --router-kv-overlap-score-weight 1.0, --router-temperature 0.0, --router-queue-threshold 2.0; the busy threshold,
 * --active-decode-blocks-threshold, is unset: off). The schema's descriptions say what each one does.
 */
export const DYNAMO_ROUTER_DEFAULTS: RouterSettings = { overlapScoreWeight: 1, temperature: 0, queueThreshold: 2, busyThreshold: null, hostCacheHitWeight: 0, diskCacheHitWeight: 0 };

/** The KV router's settings, resolved (deployment.routerConfig with DYNAMO_ROUTER_DEFAULTS for what it leaves out). */
export interface RouterSettings {
  overlapScoreWeight: number;
  temperature: number;
  /** null: no queue. */
  queueThreshold: number | null;
  /** null: no worker is ever busy. */
  busyThreshold: number | null;
  /** Credit for a prompt block found in a worker's host tier, against 1 for one in its GPU cache (0: device blocks only). */
  hostCacheHitWeight: number;
  /** The same for a block found on its local disk (kvOffload.disk), after the GPU and host parts. */
  diskCacheHitWeight: number;
}

/** The faults an experiment can inject (src/faults/injector.ts injects them on the kernel). */
export const FAULT_KINDS = ['connection_reset', 'health_503', 'link_down', 'worker_restart'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Requests in flight at once (sent and not ended, warm-up included), the bound a run keeps to: at about 2 KB of state
 * each (the request, its queue entries and pending events) this holds a point under ~600 MB. A closed loop's
 * concurrency is refused above it when the file is read; an open loop whose arrivals outrun the deployment stops
 * with a UserError when it gets there (src/serving/simulate.ts).
 */
export const MAX_IN_FLIGHT = 250_000;

/** An experiment file as written, before defaults (zod's input type; extends and sweep may supply what it omits). */
export type ExperimentInput = z.input<typeof experimentFileSchema>;

/** An experiment file as validated, zod's defaults applied; `extends`, `sweep` and `expect` are read on their own. */
export type ExperimentFile = z.output<typeof experimentFileSchema>;

type FileDeployment = ExperimentFile['deployment'];
type FileWorkload = ExperimentFile['workload'];
type FileWorkerGroup = FileDeployment['prefill'];

export type Mode = FileDeployment['mode'];
export type RouterKind = FileDeployment['router'];
export type FailurePolicy = FileDeployment['failurePolicy'];
export type PlacementKind = FileDeployment['placement'];
export type FaultSpec = ExperimentFile['faults'][number];
export type ConnectorOverrides = NonNullable<FileDeployment['connectorOverrides']>;
export type TraceSource = NonNullable<FileWorkload['trace']>;
/** workload.rate: requests per second, constant or as a function of time (src/workload/rate.ts). */
export type RateSpec = FileWorkload['rate'];

/** A request length distribution, in tokens. */
export type LengthDist = Required<NonNullable<FileWorkload['isl']>>;

/** vLLM engine arguments that shape scheduling and the KV pool. */
export interface EngineArgs extends Omit<FileDeployment['engine'], 'maxNumBatchedTokens' | 'maxNumSeqs' | 'kvLayout' | 'speculative'> {
  /** The file's, else vLLM's default on the deployment's GPU (the GPU record's vllmBatchDefaults). */
  maxNumBatchedTokens: number;
  /** The file's, else vLLM's default on the deployment's GPU. */
  maxNumSeqs: number;
  /** Absent: HND, the schema's default (the loader leaves it out then: experiments that never name it are unchanged). */
  kvLayout?: KvLayout;
  /** Absent: off (a file's null, which lets a sweep compare off with on, is left out by the loader). */
  speculative?: NonNullable<FileDeployment['engine']['speculative']>;
}

export interface WorkerGroup extends FileWorkerGroup {
  /** vLLM's batch defaults on the group's own GPU, where the file leaves them unset and they differ from the deployment's. */
  engine?: Partial<Pick<EngineArgs, 'maxNumBatchedTokens' | 'maxNumSeqs'>>;
}

/**
 * The deployment with every id resolved against the catalog. `node` and `gpu` of a group appear only when it has
 * hardware of its own; `expiry` is the file's, else the one the vLLM release's range states, else absent (the
 * profile's applies).
 */
export interface Deployment extends Omit<FileDeployment, 'gpu' | 'connector' | 'prefill' | 'decode' | 'aggregated' | 'engine' | 'maxRetries' | 'expiry' | 'connectorOverrides'> {
  /** The file's, else the node's GPU. */
  gpu: string;
  /** The connector profile's id (named, or the profile of `vllm`). */
  connector: string;
  prefill: WorkerGroup;
  decode: WorkerGroup;
  aggregated: WorkerGroup;
  engine: EngineArgs;
  /** The file's, else 0, or DEFAULT_RETRIES under the retry policy. */
  maxRetries: number;
  expiry?: ExpiryModel;
  /** Without the keys the file left unset. */
  connectorOverrides?: ConnectorOverrides;
}

/** The workload, its defaults resolved; a trace's path is absolute (read relative to the file that named it). */
export interface Workload extends Omit<FileWorkload, 'requests' | 'isl' | 'osl'> {
  /** The file's, else DEFAULT_REQUESTS, or 0 (every record) for a trace. */
  requests: number;
  /** A trace brings its own lengths: mean 0 where the file gave none. */
  isl: LengthDist;
  osl: LengthDist;
}

export interface Experiment extends Omit<ExperimentFile, 'name' | 'deployment' | 'workload' | 'extends' | 'sweep' | 'expect'> {
  /** The file's, else the file name without its extension. */
  name: string;
  deployment: Deployment;
  workload: Workload;
}

/** One point of a sweep: the experiment with the swept values applied, and which values they were. */
export interface Point {
  id: string;
  /** The swept paths and their values for this point (empty when nothing is swept). */
  params: Record<string, unknown>;
  experiment: Experiment;
}

/** Latency summary in milliseconds, of at least one sample. */
export interface Stats {
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
}

/** The summary of no samples: every field null (summary.json writes null, tables "-", points.csv an empty cell). */
export type NoStats = { [K in keyof Stats]: null };

/** A latency summary that may have had no samples: narrow with `s.mean !== null` (all fields are null or none are). */
export type MaybeStats = Stats | NoStats;

/** One point's results: the summary.json contract (plus extras that do not break it). */
export interface PointResult {
  id: string;
  params: Record<string, unknown>;
  requests: { total: number; completed: number; failed: number; fellBack: number; inFlight: number; stale: number };
  /** Over the completed measured requests; NoStats when none completed. */
  ttftMs: MaybeStats;
  itlMs: MaybeStats;
  e2eMs: MaybeStats;
  queueMs: MaybeStats;
  /** Over the measured requests' completed KV loads; nulls when none completed (aggregated, or every load fell back). */
  kvTransfer: { bytesMean: number | null; ms: MaybeStats; effectiveGBps: number | null };
  throughput: { outputTokensPerS: number; requestsPerS: number };
  utilisation: { workers: Record<string, number>; kvPoolPeak: Record<string, number>; links: Record<string, number> };
  events: Record<string, number>;
  /** Simulated seconds the measured window covered. */
  durationS: number;
  /** The TTFT distribution as (percentile, ms) pairs from 0 to 100, for CDF charts (an extra, not in the contract). */
  ttftCdfMs?: { p: number; ms: number }[];
  /** With `run --uncertainty n`: p5/p50/p95 of the main numbers over n Monte Carlo samples (an extra, see bands.ts). */
  bands?: PointBands;
  /**
   * The connector profile the point ran and how its prefill releases unread KV (the profile's expiry, or the
   * experiment's override): what charts draw the abort or lease line from (an extra, not in the contract).
   */
  expiry?: PointExpiry;
  /** With an autoscale section: GPU-hours, SLO attainment and the time series (an extra, not in the contract). */
  autoscale?: AutoscaleResult;
  /** With deployment.engine.kvOffload: where the prompts' full blocks were found (an extra, not in the contract). */
  prefixCache?: PrefixCacheResult;
  /** With deployment.conditionalDisagg: requests (warm-up included) prefilled on their decode worker, and on a prefill worker. */
  conditionalDisagg?: { localPrefills: number; remotePrefills: number };
  /** With workload.sessions: the measured requests by their turn in the conversation (an extra, not in the contract). */
  turns?: TurnResult[];
}

/** One turn number's measured requests: how many completed and failed, their mean prompt tokens, the TTFT of the completed. */
export interface TurnResult {
  turn: number;
  completed: number;
  failed: number;
  promptTokensMean: number | null;
  ttftMs: MaybeStats;
}

/**
 * Prefix-cache hits by tier over every request admitted (warm-up included): full prompt blocks, those found in a
 * worker's GPU cache, those loaded from its host tier, and the rest, computed; rates are shares of promptBlocks. The
 * host tier's own counts: blocks written to it, read back, evicted, and stores dropped for want of room.
 */
export interface PrefixCacheResult {
  promptBlocks: number;
  gpuHitBlocks: number;
  hostHitBlocks: number;
  /** With a disk tier (kvOffload.disk) only. */
  diskHitBlocks?: number;
  /** With an object store (kvOffload.object) only. */
  objectHitBlocks?: number;
  missedBlocks: number;
  gpuHitRate: number;
  hostHitRate: number;
  diskHitRate?: number;
  objectHitRate?: number;
  hitRate: number;
  host: TierCounts;
  disk?: TierCounts;
  /** The object stores' own counts, over the deployment: blocks written, read back, and checked for presence. */
  object?: { storedBlocks: number; onboardedBlocks: number; checkedBlocks: number };
}

/** A KV tier's own counts: blocks written to it, read back, evicted, and stores dropped for want of room. */
export interface TierCounts {
  storedBlocks: number;
  onboardedBlocks: number;
  evictedBlocks: number;
  droppedStores: number;
}

/** The autoscale section as validated (src/serving/autoscale.ts runs it). */
export type AutoscaleSpec = NonNullable<ExperimentFile['autoscale']>;

/**
 * With autoscale: GPU-hours held (provisioning, serving and draining workers, to the horizon or the workload's end),
 * SLO attainment (measured requests that completed within both targets, over those that ended), scaling counts, the
 * most workers of each role, and a time series for charts: at the end of each seriesS bucket, the offered rate at its
 * middle (null without one), workers per role holding GPUs, and the TTFT p95 of the requests that completed in it.
 */
export interface AutoscaleResult {
  target: AutoscaleSpec['target'];
  gpuHours: number;
  slo: { ttftMs: number; itlMs: number };
  sloAttainment: number | null;
  metSlo: number;
  ended: number;
  scaleUps: number;
  scaleDowns: number;
  peakWorkers: Record<string, number>;
  series: { tS: number; rate: number | null; workers: Record<string, number>; ttftP95Ms: number | null; completed: number }[];
}

/** A point's connector profile id with its effective KV expiry. */
export type PointExpiry = { connector: string } & ExpiryModel;
