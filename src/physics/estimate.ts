import type { LlmSpec, NodeSpec, Placement, TransportSpec } from '../spec/catalog.js';
import type { KvLayout } from '../spec/experiment.js';
import { readPlan, type ReadPlan } from './kv.js';
import { checkPlacement, transferCost } from './transfer.js';

export interface TransferQuery {
  llm: LlmSpec;
  transport: TransportSpec;
  tokens: number;
  /** A raw size instead of the model's KV for `tokens`: one READ of this many bytes (nixlbench-style setups). */
  bytes?: number;
  /** With `bytes`: the size of each descriptor (default: the whole buffer, one descriptor). */
  descriptorBytes?: number;
  /** NIC rails each worker's reads stripe over, instead of the transport's rail rule on the node (railsFor). */
  rails?: number;
  prefillTp: number;
  decodeTp: number;
  prefillNode: NodeSpec;
  decodeNode: NodeSpec;
  hostLinkBandwidth: number;
  placement: Placement;
  bandwidth: 'min' | 'typical' | 'max';
  prefillBlockSize: number;
  /** How the KV cache is laid out and registered with NIXL (descriptors per block); default HND. */
  kvLayout?: KvLayout;
  /** Line rate of each NIC rail, Gb/s, for a setup whose NICs are not the node's (a rail moves at most its share of it). */
  nicGbps?: number;
  /** Identical transfers between the same two workers, started together: they share the bottleneck equally. */
  concurrent: number;
  timeoutS: number;
}

export interface TransferEstimate {
  bytesTotal: number;
  bytesPerDecodeRank: number;
  reads: number;
  descriptors: number;
  /** Time for each transfer to complete, milliseconds. */
  ms: number;
  /** bytesTotal over that time, GB/s (1e9 B/s). */
  effectiveGBps: number;
  timeoutS: number;
  exceedsTimeout: boolean;
  setupS: number;
  /** The slowest decode rank's descriptor posting, seconds (it overlaps the wire). */
  postingS: number;
  /** Bytes over the bottleneck bandwidth, seconds (times the transfers sharing it). */
  wireS: number;
  bandwidth: number;
  prefillRails: number;
  decodeRails: number;
  placementWarning?: string;
}

/**
 * The `transfer` command's question in one function: how long one request's KV takes, alone or with k identical
 * transfers sharing the workers' rails (fair share: the wire time scales by k, the setup does not), and whether it
 * outlasts the abort timeout.
 */
export function estimateTransfer(q: TransferQuery): TransferEstimate {
  const verdict = checkPlacement(q.transport, q.placement);
  const plan = q.bytes !== undefined ? rawPlan(q.bytes, q.descriptorBytes ?? q.bytes) : readPlan(q.llm, q.tokens, q.prefillTp, q.decodeTp, q.prefillBlockSize, q.kvLayout ?? 'HND');
  const cost = transferCost(plan, q.transport, {
    prefillTp: q.prefillTp,
    decodeTp: q.decodeTp,
    prefillNode: q.prefillNode,
    decodeNode: q.decodeNode,
    bandwidth: q.bandwidth,
    hostLinkBandwidth: q.hostLinkBandwidth,
    ...(q.rails !== undefined ? { railsPerWorker: q.rails } : {}),
    // Gb/s are bits: 1e9 / 8 bytes/s each.
    ...(q.nicGbps !== undefined ? { nicBandwidth: (q.nicGbps * 1e9) / 8 } : {}),
  });
  // k transfers sharing the workers: the wire time scales by k; each one's posting still overlaps it.
  const wireS = cost.wireS * q.concurrent;
  const totalS = cost.setupS + Math.max(cost.postingS, wireS);
  const est: TransferEstimate = {
    bytesTotal: plan.bytesTotal,
    bytesPerDecodeRank: plan.bytesPerDecodeRank,
    reads: plan.reads,
    descriptors: plan.descriptors,
    ms: totalS * 1000,
    effectiveGBps: plan.bytesTotal / totalS / 1e9,
    timeoutS: q.timeoutS,
    exceedsTimeout: totalS > q.timeoutS,
    setupS: cost.setupS,
    postingS: cost.postingS,
    wireS,
    bandwidth: cost.bandwidth,
    prefillRails: cost.prefillRails,
    decodeRails: cost.decodeRails,
  };
  if (verdict.outcome === 'fails') {
    est.placementWarning = `${q.transport.id} between workers placed ${q.placement} fails in practice: ${verdict.reason ?? 'see the catalog'}`;
  }
  return est;
}

/** One READ of `bytes` from one prefill rank to one decode rank, in descriptors of `descriptorBytes` (the last may be short). */
export function rawPlan(bytes: number, descriptorBytes: number): ReadPlan {
  const descriptors = Math.max(1, Math.ceil(bytes / descriptorBytes));
  return { bytesTotal: bytes, bytesPerDecodeRank: bytes, reads: 1, descriptors, blocks: descriptors, perRead: [{ decodeRank: 0, prefillRank: 0, bytes, descriptors }] };
}
