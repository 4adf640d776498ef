/**
 * The catalog as the rest of nixlsim sees it: typed, validated records in SI units (bytes, bytes/s, FLOP/s, seconds).
 * The YAML files under models/ use datasheet units (GB/s, TFLOP/s, us) and name a source for every number; the loader
 * (src/catalog/load.ts) converts them into these records. Nothing outside models/ hard-codes a figure.
 */

/** A figure with its real spread: min and max bound it, typical is what the model uses unless told otherwise. */
export interface Range {
  min: number;
  typical: number;
  max: number;
}

/** A factor a calibration may fit, with the interval it may move in. */
export interface Factor {
  value: number;
  min: number;
  max: number;
}

export type Dtype = 'bf16' | 'fp16' | 'fp8';

export interface LlmSpec {
  id: string;
  name: string;
  /** Hugging Face repository the shape comes from. */
  hfRepo: string;
  attention: 'gqa' | 'mla';
  layers: number;
  hiddenSize: number;
  heads: number;
  /** KV heads (GQA). For MLA, 1: the latent cache is one "head" replicated on every TP rank. */
  kvHeads: number;
  /** Per-head dimension (GQA). For MLA, kvLoraRank + ropeDim. */
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  /** Total parameters. */
  params: number;
  /** Parameters touched per token (MoE); equals params for dense models. */
  activeParams: number;
  weightDtype: Dtype;
  kvDtype: Dtype;
  maxContext: number;
  mla?: { kvLoraRank: number; ropeDim: number };
  /** Mixture of experts: the routed FFN's shape (config.json); absent for a dense model. */
  moe?: MoeShape;
  /** Speculative decoding drafts the model has, by method (models/llm/ speculative); absent: none. */
  speculative?: SpeculativeDrafts;
  /** Where each number came from, by field name. */
  sources: Record<string, string>;
}

/**
 * A mixture-of-experts model's routed FFN, as Hugging Face config.json gives it: per MoE layer, `routedExperts` experts
 * (each three hidden x moeIntermediateSize matrices: gate, up, down), `expertsPerToken` chosen per token, and
 * `sharedExperts` of the same shape every token passes through; the first `firstDenseLayers` layers have a dense FFN
 * (intermediateSize) instead. With group-limited routing a token's experts lie in `groupsPerToken` of `expertGroups`
 * equal groups of experts (DeepSeek-V3: 4 of 8).
 */
/**
 * A model's speculative-decoding drafts by method: the chance a draft token is accepted given the ones before it were
 * (when a figure is published), and the transformer layers one draft pass runs (MTP module, EAGLE head). n-gram drafts
 * on the CPU and has only an acceptance rate.
 */
/** The methods of vLLM's --speculative-config nixlsim models (deployment.engine.speculative); deepseek_mtp is mtp's older name. */
export const SPECULATIVE_METHODS = ['mtp', 'deepseek_mtp', 'eagle', 'eagle3', 'ngram'] as const;
export type SpeculativeMethod = (typeof SPECULATIVE_METHODS)[number];

export interface SpeculativeDrafts {
  mtp?: { acceptanceRate?: number; acceptanceByPosition?: number[]; draftLayers: number };
  eagle?: { acceptanceRate?: number; acceptanceByPosition?: number[]; draftLayers: number };
  eagle3?: { acceptanceRate?: number; acceptanceByPosition?: number[]; draftLayers: number };
  ngram?: { acceptanceRate: number };
}

export interface MoeShape {
  routedExperts: number;
  expertsPerToken: number;
  sharedExperts: number;
  moeIntermediateSize: number;
  firstDenseLayers: number;
  expertGroups?: number;
  groupsPerToken?: number;
}

export interface GpuSpec {
  id: string;
  name: string;
  /** Dense peak FLOP/s by dtype. */
  flops: { bf16: number; fp8: number | null };
  hbmBytes: number;
  /** HBM bandwidth, bytes/s. */
  hbmBandwidth: number;
  /** NVLink bandwidth per GPU, bytes/s, bidirectional as datasheets quote it (per direction is half). */
  nvlinkBandwidth: number;
  hostLink: {
    name: string;
    /** The link's rate, bytes/s per direction (the datasheet's). */
    bandwidth: number;
    /** What a DMA copy between GPU and host memory reaches in one direction, bytes/s: what staged transfers and KV tiers move at. */
    copyBandwidth: number;
    /** What copies in both directions at once reach together, bytes/s (each direction gets half while both are busy). */
    duplexBandwidth: number;
  };
  efficiency: {
    /** Fraction of peak FLOP/s prefill reaches. */
    prefillCompute: Factor;
    /** Fraction of HBM bandwidth a decode step reaches. */
    decodeMemory: Factor;
    /**
     * Host (CPU) time per engine step that does not overlap the GPU: scheduling, input preparation, sampling and
     * output processing, seconds. The GPU idles meanwhile (vLLM without async scheduling).
     */
    stepOverheadS: Factor;
    /**
     * Extra time per model layer per engine step when vLLM runs with --enforce-eager (no CUDA graphs: every layer's
     * kernels are launched from Python), seconds; does not apply with CUDA graphs. Same unit as stepOverheadS: a
     * duration, not a fraction of a peak.
     */
    eagerLayerOverheadS: Factor;
    /**
     * Kernel-launch time per model layer of a step run as piecewise CUDA graphs (a mixed prefill+decode batch, or a
     * decode batch past the largest captured size): each layer's attention is launched eagerly between the graph
     * pieces. Like eagerLayerOverheadS it overlaps the GPU's work: a step takes the longer of the two. Seconds.
     */
    piecewiseLayerOverheadS: Factor;
    /** Fixed latency of one tensor-parallel all-reduce (NCCL / vLLM custom all-reduce), seconds; its bytes come on top. */
    allReduceLatencyS: Factor;
    /**
     * Extra host time per engine step on a disaggregated decode worker: the pull side of vLLM's NixlConnector (starting
     * each request's reads, polling their state in get_finished every step) and Dynamo's hooks, seconds. Not paid by
     * prefill workers (they only read notifications) nor aggregated ones.
     */
    connectorStepOverheadS: Factor;
  };
  /** vLLM's max_num_batched_tokens and max_num_seqs defaults for an OpenAI API server on this GPU (get_batch_defaults). */
  vllmBatchDefaults: { maxNumBatchedTokens: number; maxNumSeqs: number };
  /** Set on a record `nixlsim calibrate` wrote: the GPU it calibrates (usable on that GPU's nodes). */
  calibratedFrom?: string;
  sources: Record<string, string>;
}

export interface NodeSpec {
  id: string;
  name: string;
  gpu: string;
  gpusPerNode: number;
  /**
   * GPUs of the NVLink domain the node belongs to: gpusPerNode for an HGX/DGX board, more where NVLink spans nodes
   * (GB200 NVL72: 72 over 18 trays of 4). A TP group up to this size all-reduces over NVLink.
   */
  nvlinkDomainGpus: number;
  /** Network interfaces for inter-node traffic. */
  nics: { kind: 'efa' | 'infiniband' | 'roce' | 'ethernet'; count: number; /** bytes/s each, line rate */ bandwidth: number };
  /** Transports this node can run, by id. */
  transports: string[];
  /** The expert-parallel all-to-all kernels its fabric runs (an AllToAllSpec id); absent: none, so no EP across GPUs. */
  allToAll?: string;
  sources: Record<string, string>;
}

/** One EP size of the high-throughput kernels: the bottleneck bandwidth of dispatch and of combine, bytes/s. */
export interface AllToAllBandwidth {
  ep: number;
  dispatch: number;
  combine: number;
}

/** One EP size of the low-latency kernels at `tokensPerRank` tokens a rank: latency (s) and bandwidth (bytes/s) each way. */
export interface AllToAllLatencyPoint {
  ep: number;
  dispatchS: number;
  dispatchBandwidth: number;
  combineS: number;
  combineBandwidth: number;
}

/**
 * Expert-parallel all-to-all kernels (MoE dispatch and combine), as their library published them (models/all-to-all/):
 * the high-throughput ("normal") kernels' bottleneck bandwidth by EP size, within a node (NVLink) and across nodes
 * (RDMA), and the low-latency kernels' latency and bandwidth by EP size at `tokensPerRank` tokens a rank. The figures
 * are for `measuredOn`'s GPU and NIC: other hardware scales the bandwidths by its own NVLink and NIC figures.
 */
export interface AllToAllSpec {
  id: string;
  name: string;
  library: string;
  measuredOn: { gpu: string; /** bidirectional, bytes/s */ nvlinkBandwidth: number; /** one NIC per GPU, bytes/s */ nicBandwidth: number };
  /** Bytes one FP8-dispatched activation element takes, its share of the block scales included. */
  fp8BytesPerElement: number;
  highThroughput: { intranode: AllToAllBandwidth; internode: AllToAllBandwidth[] };
  lowLatency: { tokensPerRank: number; points: AllToAllLatencyPoint[] };
  sources: Record<string, string>;
}

/** Where a prefill and a decode worker sit relative to each other. */
export type Placement = 'intra-pod' | 'same-node' | 'cross-node';

export interface PlacementRule {
  placement: Placement;
  /** works: usable; unavailable: cannot be set up at all; fails: sets up, then transfers fail. */
  outcome: 'works' | 'unavailable' | 'fails';
  /** Why, in the words a user would search for (e.g. the log line). */
  reason?: string;
}

/** What a fallback transport stands in for: no RDMA device (UCX over TCP), or RDMA without GPUDirect (host staging). */
export type TransportFallback = 'no-rdma' | 'no-gpudirect';

export interface TransportSpec {
  id: string;
  name: string;
  /** NIXL backend it runs on (UCX, LIBFABRIC, ...). */
  backend: string;
  /** Effective bandwidth of one rail, bytes/s: min, typical and max from the seeds' tables. */
  bandwidthPerRail: Range;
  /**
   * True when a worker's reads stripe across all the NIC rails its GPUs own (RDMA with GPUDirect); false when they
   * funnel through one host path whatever the NIC count (TCP, host staging).
   */
  striped: boolean;
  /** One-way latency, seconds. */
  latencyS: number;
  /** Fixed cost per NIXL READ (post, completion, notification), seconds. */
  perReadS: number;
  /** Cost per descriptor in a READ's list, seconds. */
  perDescriptorS: number;
  /** Its real spread, seconds (Monte Carlo and sensitivity draw from it); absent when the catalog gives none. */
  perDescriptorRange?: { min: number; max: number };
  /** GPU memory read directly by the NIC; false means staged through host memory over PCIe on both sides. */
  gpuDirect: boolean;
  /**
   * Striped transports: which NICs one rank's READs stripe over, by backend: its GPU's own share of the node's NICs
   * (NIXL libfabric), up to `max` of the node's NICs shared by the worker's ranks (UCX_MAX_RNDV_RAILS), or all of them
   * (Mooncake).
   */
  railRule: { rule: 'gpu-nics' | 'per-rank-max' | 'all-node-nics'; max?: number };
  /** Striped transports: the most of a NIC's line rate one rail moves (1 when the catalog gives none). */
  lineRateShare: number;
  /** Multi-node NVLink: reaches other nodes only inside their NVLink domain (NodeSpec.nvlinkDomainGpus). */
  nvlinkDomainOnly?: boolean;
  /**
   * How the backend retries a READ the fabric refuses with EAGAIN (a `fails` placement that hangs rather than errors):
   * the delay before attempt n is min(baseDelayS x (1 + floor(n / 10)), maxDelayS); every logEveryAttempts attempts
   * it logs `line` ({rail} and {attempts} filled in).
   */
  eagainRetry?: { baseDelayS: number; maxDelayS: number; logEveryAttempts: number; line: string };
  placements: PlacementRule[];
  /** vLLM's NIXL side channel (the handshake's ZMQ messages) runs over this path: its latencyS is theirs. */
  sideChannel?: boolean;
  /**
   * The role it plays when a deployment's fast path is missing: `no-rdma`, UCX's fallback when it finds no RDMA device;
   * `no-gpudirect`, RDMA staged through host memory. Audit tries each as a cause of a slower measurement.
   */
  fallbackWhen?: TransportFallback;
  /** How charts draw it on every chart: its colour (#rrggbb) and point shape; absent: series colours in order. */
  display?: { colour: string; shape: string };
  /** Set on a record `nixlsim calibrate` wrote: the transport it calibrates (offered where that one is). */
  calibratedFrom?: string;
  sources: Record<string, string>;
}

export interface Catalog {
  llms: Map<string, LlmSpec>;
  gpus: Map<string, GpuSpec>;
  nodes: Map<string, NodeSpec>;
  transports: Map<string, TransportSpec>;
  connectors: Map<string, ConnectorProfile>;
  /** Expert-parallel all-to-all kernels (models/all-to-all/), by id. */
  allToAll: Map<string, AllToAllSpec>;
}

/**
 * What a vLLM build's NixlConnector does with a prefill/decode pair, as data (models/connector/): a behaviour that
 * differs between builds is a profile, not an `if (version)` in code. An experiment may override any field.
 */
export type TpSupport = 'ok' | 'rejected' | 'crash';

/**
 * A failure as the build reports it: the exception type and its text. The text may hold placeholders that code fills
 * in: {prefillTp} {decodeTp} {prefillBlockSize} {decodeBlockSize} {engineId} {timeoutS} {port}.
 */
export interface ConnectorError {
  /** Python exception type as logged, e.g. 'AssertionError', 'ZeroDivisionError', 'KeyError'. */
  error: string;
  message: string;
}

export type ExpiryModel =
  /** Prefill frees a finished request's blocks if no decode worker read them within timeoutS (VLLM_NIXL_ABORT_REQUEST_TIMEOUT). */
  | { kind: 'abort-timeout'; timeoutS: number }
  /** Newer builds: a lease of leaseS, which decode heartbeats (every heartbeatS) extend to now + extendS. */
  | { kind: 'lease'; leaseS: number; heartbeatS: number; extendS: number };

export interface ConnectorProfile {
  id: string;
  name: string;
  /** The profile commands use when none is named (plan, breakeven); one profile of a loaded catalog has it. */
  default?: boolean;
  /** Upstream pull requests (vllm-project/vllm#N) and builds this profile stands for. */
  upstream: string[];
  tp: {
    /** Decode TP > prefill TP. */
    decodeWider: TpSupport;
    /** Prefill TP > decode TP. */
    prefillWider: TpSupport;
  };
  /** How a non-ok pair fails: the error at the handshake, and for 'crash' the error at the first transfer. */
  errors: {
    decodeWiderRejected?: ConnectorError;
    prefillWiderRejected?: ConnectorError;
    /** For crash: the handshake's internal error (never surfaced to the request) ... */
    prefillWiderHandshake?: ConnectorError;
    /** ... and what the first get_finished() raises, which kills the engine. */
    prefillWiderFirstTransfer?: ConnectorError;
    tpNotDivisible: ConnectorError;
    blockSizeMismatch: ConnectorError;
    /** Block sizes differ while prefill TP > decode TP (any-tp builds require them equal then). */
    blockSizePrefillWider?: ConnectorError;
    /**
     * What get_finished() raises, killing the engine, for an engine whose handshake failed before it was registered
     * (any failed handshake where handshake.onFailure is 'engine-dead', and a 'crash' pair, which falls back to
     * prefillWiderFirstTransfer without it). {engineId} filled in.
     */
    engineUnregistered?: ConnectorError;
    compatHashMismatch: ConnectorError;
    handshakeTimeout: ConnectorError;
  };
  blockSize: {
    /** equal-only: P and D block sizes must match; decode-multiple: D / P must be a whole number >= 1. */
    rule: 'equal-only' | 'decode-multiple';
    /** With prefill TP > decode TP the ratio must be 1. */
    equalWhenPrefillWider: boolean;
  };
  handshake: {
    /** ZMQ receive timeout on the side channel, seconds (5 s upstream); null where the build set none (waits forever). */
    timeoutS: number | null;
    /** What a failed handshake does: kill the engine at the next get_finished, or fail only the waiting requests. */
    onFailure: 'engine-dead' | 'fail-requests';
    /**
     * Seconds a decode rank spends per remote descriptor it prepares when it registers a prefill rank: vLLM's
     * add_remote_agent builds one descriptor per block of the remote pool per region (per layer, K and V) and hands the
     * list to NIXL (get_xfer_descs, prep_xfer_dlist). 0 where the profile's record leaves it unset.
     */
    prepPerDescriptorS: number;
  };
  /** kv_load_failure_policy where the build has it (PR #26813): fail the request, or recompute it on decode. */
  kvLoadFailurePolicy: 'fail' | 'recompute' | null;
  /**
   * 'unsupported': the build cannot serve workers with data-parallel ranks (vLLM before PR #18903 gave every DP rank
   * the same NIXL engine id and side-channel port). Absent: each DP rank is its own NIXL engine, as later builds do.
   */
  dataParallel?: 'unsupported';
  /**
   * Disaggregated workers with pipeline-parallel stages: none in pull-mode NixlConnector builds (a prefill rank's
   * pp_rank > 0 handshake metadata is refused), prefill only with vLLM's NixlPushConnector (PR #45880).
   */
  pipelineParallel: 'unsupported' | 'prefill-only';
  expiry: ExpiryModel;
  /**
   * The vLLM releases this profile stands for (`--vllm 0.10.1`): `>=A` or `>=A <B`, each with where that comes from,
   * and, for a range whose builds differ from the profile only in their expiry, that expiry.
   */
  vllmReleases?: VllmRelease[];
  sources: Record<string, string>;
}

export interface VllmRelease {
  /** `>=A <B` or `>=A`, major.minor.patch. */
  versions: string;
  /** Where a build of this range expires KV differently from the profile. */
  expiry?: ExpiryModel;
  /** The release notes or pull requests that place the range. */
  source: string;
}
