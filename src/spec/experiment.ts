/**
 * An experiment as the simulator sees it after the file has been read, validated and defaulted (src/experiment/load.ts)
 * and a sweep expanded into points. Paths named in the issue are contracts: name, seed, deployment.*, workload.*, sweep.
 */
import type { ConnectorProfile, ExpiryModel } from './catalog.js';
import type { PointBands } from './bands.js';

export type Mode = 'disaggregated' | 'aggregated';
export type RouterKind = 'round-robin' | 'least-loaded' | 'kv-aware';
export type FailurePolicy = 'fallback' | 'fail' | 'retry';
export type PlacementKind = 'intra-pod' | 'same-node' | 'cross-node';

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

/** The faults an experiment can inject (src/faults/injector.ts injects them on the kernel). */
export const FAULT_KINDS = ['connection_reset', 'health_503', 'link_down', 'worker_restart'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type FaultSpec =
  | {
      kind: 'connection_reset' | 'health_503';
      /** Poisson arrivals per simulated second. */
      rate?: number;
      /** Chance of a fault at each roll(). */
      probability?: number;
      /** Absolute simulated times, seconds. */
      at?: number[];
      /** What it hits (a connection, a worker); unset means the model picks (and roll() matches any target). */
      target?: string;
    }
  | {
      kind: 'link_down';
      rate?: number;
      at?: number[];
      /** How long the link stays down, seconds. */
      durationS: number;
      /** The link, e.g. a rail id. */
      target: string;
    }
  | {
      kind: 'worker_restart';
      rate?: number;
      at?: number[];
      /** How long the worker is gone, seconds. */
      downtimeS: number;
      /** The worker. */
      target: string;
    };

export interface WorkerGroup {
  workers: number;
  tp: number;
  /** The group's own node type and GPU, when it has them (absent: the deployment's). */
  node?: string;
  gpu?: string;
  /** vLLM's batch defaults on the group's own GPU, where the file leaves them unset and they differ from the deployment's. */
  engine?: Partial<Pick<EngineArgs, 'maxNumBatchedTokens' | 'maxNumSeqs'>>;
}

/** vLLM engine arguments that shape scheduling and the KV pool. */
export interface EngineArgs {
  /** max_num_batched_tokens: token budget of one step (chunked prefill splits prompts to fit). */
  maxNumBatchedTokens: number;
  /** max_num_seqs: sequences running at once. */
  maxNumSeqs: number;
  /** Tokens per KV block. */
  blockSize: number;
  /** How the KV cache is laid out and registered with NIXL (descriptors per block of a READ); default HND. */
  kvLayout?: KvLayout;
  /** gpu_memory_utilization: fraction of HBM vLLM may use for weights, activations and the KV pool. */
  gpuMemoryUtilization: number;
  /** Bytes per GPU kept back for activations and CUDA graphs before sizing the KV pool. */
  activationReserveBytes: number;
  prefixCaching: boolean;
  chunkedPrefill: boolean;
  /** long_prefill_token_threshold: most new prompt tokens one sequence takes a step (0: no cap, vLLM's default). */
  longPrefillTokenThreshold?: number;
  /** --enforce-eager: no CUDA graphs, so every step pays a kernel-launch overhead per layer (seed 000 ran this way). */
  enforceEager?: boolean;
}

export interface Deployment {
  mode: Mode;
  model: string;
  gpu: string;
  node: string;
  /** The connector profile's id (named, or the profile of `vllm`). */
  connector: string;
  /** The vLLM release the file named instead of (or as well as) a profile. */
  vllm?: string;
  transport: string;
  prefill: WorkerGroup;
  decode: WorkerGroup;
  aggregated: WorkerGroup;
  /** Where prefill and decode workers sit relative to each other. */
  placement: PlacementKind;
  router: RouterKind;
  engine: EngineArgs;
  /** Which per-rail bandwidth of the transport to use. */
  bandwidth: 'min' | 'typical' | 'max';
  /** What a failed KV transfer does: prefill locally on the decode worker, fail the request, or retry the transfer. */
  failurePolicy: FailurePolicy;
  /** Retries before the policy gives up (retry policy), then falls back. */
  maxRetries: number;
  /** Overrides of the connector profile's expiry (e.g. VLLM_NIXL_ABORT_REQUEST_TIMEOUT=480). */
  expiry?: ExpiryModel;
  /**
   * How long decode waits for a request's KV before giving up and applying the failure policy. Default (undefined):
   * the abort timeout, since prefill releases the blocks then and a later read would be stale; none for lease builds
   * (heartbeats keep the blocks). null: wait for ever, so late reads land as stale_kv_read (silent corruption).
   */
  kvLoadTimeoutS?: number | null;
  /** Overrides of the connector profile's behaviour (TP support, block-size rule, handshake, kv_load_failure_policy). */
  connectorOverrides?: ConnectorOverrides;
}

export interface ConnectorOverrides {
  tp?: Partial<ConnectorProfile['tp']>;
  blockSize?: Partial<ConnectorProfile['blockSize']>;
  handshake?: Partial<ConnectorProfile['handshake']>;
  kvLoadFailurePolicy?: ConnectorProfile['kvLoadFailurePolicy'];
}

export interface LengthDist {
  mean: number;
  stddev: number;
}

export interface TraceSource {
  format: 'azure' | 'mooncake';
  /** Absolute path (the loader resolves it relative to the experiment file). */
  path: string;
  /** Replay this many times faster than recorded. */
  speedup: number;
  /** Use only the first N records. */
  limit?: number;
}

export interface Workload {
  kind: 'closed-loop' | 'poisson' | 'trace';
  /** closed-loop: requests in flight at once (genai-perf --concurrency). */
  concurrency: number;
  /** Requests measured (closed-loop, poisson); for traces, a cap on records replayed (0 = all). */
  requests: number;
  /** Warm-up requests sent first and left out of the metrics (genai-perf --warmup-request-count). */
  warmup: number;
  /** poisson: requests per second. */
  rate: number;
  isl: LengthDist;
  osl: LengthDist;
  trace?: TraceSource;
}

export interface Experiment {
  name: string;
  seed: number;
  deployment: Deployment;
  workload: Workload;
  faults: FaultSpec[];
  /** Stop the simulation here (seconds); requests still running are counted as in flight. */
  horizonS: number;
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
}

/** A point's connector profile id with its effective KV expiry. */
export type PointExpiry = { connector: string } & ExpiryModel;
