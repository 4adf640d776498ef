import type { LlmSpec, NodeSpec, Placement, TransportSpec } from '../catalog/types.js';
import { readPlan } from './kv.js';
import { checkPlacement, transferCost } from './transfer.js';

export interface TransferQuery {
  llm: LlmSpec;
  transport: TransportSpec;
  tokens: number;
  prefillTp: number;
  decodeTp: number;
  prefillNode: NodeSpec;
  decodeNode: NodeSpec;
  hostLinkBandwidth: number;
  placement: Placement;
  bandwidth: 'min' | 'typical' | 'max';
  prefillBlockSize: number;
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
  const plan = readPlan(q.llm, q.tokens, q.prefillTp, q.decodeTp, q.prefillBlockSize);
  const cost = transferCost(plan, q.transport, {
    prefillTp: q.prefillTp,
    decodeTp: q.decodeTp,
    prefillNode: q.prefillNode,
    decodeNode: q.decodeNode,
    bandwidth: q.bandwidth,
    hostLinkBandwidth: q.hostLinkBandwidth,
  });
  const totalS = cost.setupS + cost.wireS * q.concurrent;
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
    bandwidth: cost.bandwidth,
    prefillRails: cost.prefillRails,
    decodeRails: cost.decodeRails,
  };
  if (verdict.outcome === 'fails') {
    est.placementWarning = `${q.transport.id} between workers placed ${q.placement} fails in practice: ${verdict.reason ?? 'see the catalog'}`;
  }
  return est;
}
