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
  /** Where each number came from, by field name. */
  sources: Record<string, string>;
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
  hostLink: { name: string; /** bytes/s per direction */ bandwidth: number };
  efficiency: {
    /** Fraction of peak FLOP/s prefill reaches. */
    prefillCompute: Factor;
    /** Fraction of HBM bandwidth a decode step reaches. */
    decodeMemory: Factor;
    /** Fixed time per engine step (scheduling, kernel launches), seconds. */
    stepOverheadS: Factor;
  };
  sources: Record<string, string>;
}

export interface NodeSpec {
  id: string;
  name: string;
  gpu: string;
  gpusPerNode: number;
  /** Network interfaces for inter-node traffic. */
  nics: { kind: 'efa' | 'infiniband' | 'roce' | 'ethernet'; count: number; /** bytes/s each, line rate */ bandwidth: number };
  /** Transports this node can run, by id. */
  transports: string[];
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
  /** GPU memory read directly by the NIC; false means staged through host memory over PCIe on both sides. */
  gpuDirect: boolean;
  placements: PlacementRule[];
  sources: Record<string, string>;
}

export interface Catalog {
  llms: Map<string, LlmSpec>;
  gpus: Map<string, GpuSpec>;
  nodes: Map<string, NodeSpec>;
  transports: Map<string, TransportSpec>;
}
