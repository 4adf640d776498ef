import type { NodeSpec, Placement, TransportSpec } from '../catalog/types.js';
import { UserError } from '../errors.js';
import type { ReadPlan } from './kv.js';

/**
 * How long the decode side takes to pull one request's KV over a transport, with the link to itself (contention is
 * the network layer's job). Hockney-style: a fixed setup (latency, then per-READ and per-descriptor posting on each
 * decode rank, ranks in parallel) plus bytes over the bottleneck bandwidth. Small transfers are dominated by the setup
 * and run far from line rate; large ones approach it: effective = bytes / total rises along a ramp whose half-rate
 * size is setup x bandwidth.
 */
export interface TransferEndpoints {
  /** Prefill worker TP and node, decode worker TP and node. */
  prefillTp: number;
  decodeTp: number;
  prefillNode: NodeSpec;
  decodeNode: NodeSpec;
  /** Which of min / typical / max per-rail bandwidth to use, or a per-rail figure in bytes/s (Monte Carlo, sensitivity). */
  bandwidth?: BandwidthChoice;
  /** Override: rails each worker's reads use (default: its GPUs' share of the node's NICs). */
  railsPerWorker?: number;
  /** Host link bandwidth (bytes/s, per direction) staged transports cross on each side. */
  hostLinkBandwidth?: number;
}

export interface TransferCost {
  setupS: number;
  wireS: number;
  totalS: number;
  /** The bottleneck bandwidth, bytes/s. */
  bandwidth: number;
  /** bytesTotal / totalS, bytes/s. */
  effectiveBandwidth: number;
  /** Rails the prefill and decode workers stripe over. */
  prefillRails: number;
  decodeRails: number;
}

/**
 * Rails a worker of `tp` GPUs stripes over: its GPUs' share of the node's NICs for striped transports (p5.48xlarge:
 * 32 EFA / 8 GPU = 4 a GPU; DGX H100: 1 a GPU), one host path otherwise.
 */
export function railsFor(transport: TransportSpec, node: NodeSpec, tp: number): number {
  if (!transport.striped) return 1;
  return Math.max(1, Math.round((node.nics.count / node.gpusPerNode) * tp));
}

/**
 * Which per-rail bandwidth a transfer runs at: one of the catalog's min / typical / max, or a figure in bytes/s drawn
 * from between them (uncertainty bands and sensitivity runs pick a number; the catalog still says what range is real).
 */
export type BandwidthChoice = 'min' | 'typical' | 'max' | number;

/** Per-rail bandwidth for a choice, bytes/s; a number must be positive and finite. */
export function perRailBandwidth(transport: TransportSpec, choice: BandwidthChoice): number {
  if (typeof choice === 'string') return transport.bandwidthPerRail[choice];
  if (!(Number.isFinite(choice) && choice > 0)) throw new UserError(`per-rail bandwidth of '${transport.id}' must be a number of bytes/s > 0, got ${choice}`);
  return choice;
}

/** Bandwidth of one worker's side of a transfer, bytes/s. */
export function workerBandwidth(transport: TransportSpec, rails: number, pick: BandwidthChoice): number {
  return perRailBandwidth(transport, pick) * rails;
}

export function transferCost(plan: ReadPlan, transport: TransportSpec, ends: TransferEndpoints): TransferCost {
  const pick = ends.bandwidth ?? 'typical';
  const prefillRails = ends.railsPerWorker ?? railsFor(transport, ends.prefillNode, ends.prefillTp);
  const decodeRails = ends.railsPerWorker ?? railsFor(transport, ends.decodeNode, ends.decodeTp);
  let bandwidth = Math.min(
    workerBandwidth(transport, prefillRails, pick),
    workerBandwidth(transport, decodeRails, pick),
  );
  if (!transport.gpuDirect && ends.hostLinkBandwidth !== undefined) {
    // Staged: GPU -> host over PCIe, network, host -> GPU; the stages pipeline, so the slowest one sets the pace.
    bandwidth = Math.min(bandwidth, ends.hostLinkBandwidth);
  }
  // Each decode rank posts its reads one after another; ranks work in parallel.
  const postingByRank = new Map<number, number>();
  for (const r of plan.perRead) {
    const t = transport.perReadS + r.descriptors * transport.perDescriptorS;
    postingByRank.set(r.decodeRank, (postingByRank.get(r.decodeRank) ?? 0) + t);
  }
  let posting = 0;
  for (const t of postingByRank.values()) posting = Math.max(posting, t);
  const setupS = transport.latencyS + posting;
  const wireS = plan.bytesTotal / bandwidth;
  const totalS = setupS + wireS;
  return {
    setupS,
    wireS,
    totalS,
    bandwidth,
    effectiveBandwidth: totalS > 0 ? plan.bytesTotal / totalS : 0,
    prefillRails,
    decodeRails,
  };
}

/** The transport's verdict for a placement; throws a UserError for unavailable, returns the rule otherwise. */
export function checkPlacement(transport: TransportSpec, placement: Placement): { outcome: 'works' | 'fails'; reason?: string } {
  const rule = transport.placements.find((p) => p.placement === placement);
  if (!rule || rule.outcome === 'unavailable') {
    throw new UserError(
      `transport '${transport.id}' is not available between workers placed ${placement}` + (rule?.reason ? `: ${rule.reason}` : ''),
    );
  }
  return rule.reason !== undefined ? { outcome: rule.outcome, reason: rule.reason } : { outcome: rule.outcome };
}
