import type { NodeSpec, Placement, TransportSpec } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import type { RankRead, ReadPlan } from './kv.js';

/**
 * How long the decode side takes to pull one request's KV over a transport, with the link to itself (contention is
 * the network layer's job), as NIXL does the work:
 *   - per transfer: the latency, then each READ's request setup and notification (makeXferReq / postXferReq, the
 *     backend's progress, the notification back to prefill): `perReadS`, one after another on a decode rank;
 *   - per descriptor: posting it to the backend (`perDescriptorS`, by backend and memory type: UCX cuda_ipc is far
 *     slower per descriptor than rc_x); descriptors go out as they are posted, so the bytes move while later ones are
 *     still being posted;
 *   - per byte: the bottleneck bandwidth of the path: rails (by the backend's rail rule, railsFor) x the per-rail
 *     figure, a rail never moving more than its NIC's line rate times the transport's line-rate share (railCap).
 * So a transfer takes setup + max(posting, wire): posting-bound with many small descriptors (small blocks, one head a
 * rank at high TP), wire-bound with few large ones. Ranks work in parallel. A READ on the network layer moves at most
 * bytes / posting (its rate cap, readSchedule), which gives the same max under contention.
 */
export interface TransferEndpoints {
  /** Prefill worker TP and node, decode worker TP and node. */
  prefillTp: number;
  decodeTp: number;
  prefillNode: NodeSpec;
  decodeNode: NodeSpec;
  /** Which of min / typical / max per-rail bandwidth to use, or a per-rail figure in bytes/s (Monte Carlo, sensitivity). */
  bandwidth?: BandwidthChoice;
  /** Override: rails each worker's reads use (default: the transport's rail rule on the worker's node, railsFor). */
  railsPerWorker?: number;
  /** Override: the line rate of each NIC rail, bytes/s (default: the node's NICs), for setups off the catalog's nodes. */
  nicBandwidth?: number;
  /** Host link bandwidth (bytes/s, per direction) staged transports cross on each side. */
  hostLinkBandwidth?: number;
}

export interface TransferCost {
  /** Latency plus the slowest decode rank's per-READ setup. */
  setupS: number;
  /** The slowest decode rank's descriptor posting. */
  postingS: number;
  wireS: number;
  /** setupS + max(postingS, wireS). */
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
 * NIC rails a worker of `tp` GPUs stripes over, by the transport's rail rule (models/transport/*.yaml, railRule):
 *   - gpu-nics: its GPUs' own share of the node's NICs (NIXL libfabric maps each GPU to its nearest EFA devices:
 *     p5.48xlarge 32 / 8 = 4 a GPU);
 *   - per-rank-max: each rank stripes over up to `max` NICs (UCX_MAX_RNDV_RAILS, default 2), drawn from the node's
 *     NICs, which the worker's ranks share: min(node NICs, tp x max) (DGX H100: TP1 gets 2, TP4 and TP8 get 8);
 *   - all-node-nics: every NIC of the node (Mooncake's transfer engine).
 * One host path for transports that do not stripe.
 */
export function railsFor(transport: TransportSpec, node: NodeSpec, tp: number): number {
  if (!transport.striped) return 1;
  const nics = node.nics.count;
  switch (transport.railRule.rule) {
    case 'gpu-nics':
      return Math.max(1, Math.round((nics / node.gpusPerNode) * tp));
    case 'per-rank-max':
      return Math.max(1, Math.min(nics, tp * (transport.railRule.max ?? 1)));
    case 'all-node-nics':
      return Math.max(1, nics);
  }
}

/**
 * The most one NIC rail moves, bytes/s: the NIC's line rate (the node's, or `nicBandwidth` for a setup off the
 * catalog) times the transport's line-rate share. Unbounded for transports that do not run on NIC rails.
 */
export function railCap(transport: TransportSpec, node: NodeSpec, nicBandwidth?: number): number {
  if (!transport.striped) return Infinity;
  return (nicBandwidth ?? node.nics.bandwidth) * transport.lineRateShare;
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

/** Bandwidth of one worker's side of a transfer, bytes/s: rails x the per-rail figure, each rail at most `cap` (railCap). */
export function workerBandwidth(transport: TransportSpec, rails: number, pick: BandwidthChoice, cap = Infinity): number {
  return Math.min(perRailBandwidth(transport, pick), cap) * rails;
}

/**
 * Staged transports (no GPUDirect) cross each side's host link (GPU -> host over PCIe, network, host -> GPU); the stages
 * pipeline, so the slowest sets the pace: `bandwidth` capped at the host link's, bytes/s. GPUDirect transports skip it.
 * transferCost and the serving simulation's fabric (nixl/fabric.ts) both cap with this.
 */
export function hostLinkCap(transport: TransportSpec, bandwidth: number, hostLinkBandwidth: number | undefined): number {
  return transport.gpuDirect || hostLinkBandwidth === undefined ? bandwidth : Math.min(bandwidth, hostLinkBandwidth);
}

/** One rail's bandwidth on `node`, bytes/s: the chosen per-rail figure, at most the rail's cap (railCap). */
export function railBandwidth(transport: TransportSpec, node: NodeSpec, pick: BandwidthChoice, nicBandwidth?: number): number {
  return Math.min(perRailBandwidth(transport, pick), railCap(transport, node, nicBandwidth));
}

export function transferCost(plan: ReadPlan, transport: TransportSpec, ends: TransferEndpoints): TransferCost {
  const pick = ends.bandwidth ?? 'typical';
  const prefillRails = ends.railsPerWorker ?? railsFor(transport, ends.prefillNode, ends.prefillTp);
  const decodeRails = ends.railsPerWorker ?? railsFor(transport, ends.decodeNode, ends.decodeTp);
  const bandwidth = hostLinkCap(
    transport,
    Math.min(
      workerBandwidth(transport, prefillRails, pick, railCap(transport, ends.prefillNode, ends.nicBandwidth)),
      workerBandwidth(transport, decodeRails, pick, railCap(transport, ends.decodeNode, ends.nicBandwidth)),
    ),
    ends.hostLinkBandwidth,
  );
  const { setupS, postingS } = postingOf(plan, transport);
  const wireS = plan.bytesTotal / bandwidth;
  const totalS = setupS + Math.max(postingS, wireS);
  return {
    setupS,
    postingS,
    wireS,
    totalS,
    bandwidth,
    effectiveBandwidth: totalS > 0 ? plan.bytesTotal / totalS : 0,
    prefillRails,
    decodeRails,
  };
}

/** The latency plus the slowest decode rank's READ setups, and the slowest rank's descriptor posting (ranks in parallel). */
export function postingOf(plan: ReadPlan, transport: TransportSpec): { setupS: number; postingS: number } {
  const reads = new Map<number, number>();
  const descriptors = new Map<number, number>();
  for (const r of plan.perRead) {
    reads.set(r.decodeRank, (reads.get(r.decodeRank) ?? 0) + 1);
    descriptors.set(r.decodeRank, (descriptors.get(r.decodeRank) ?? 0) + r.descriptors);
  }
  let setup = 0;
  let posting = 0;
  for (const [rank, n] of reads) {
    setup = Math.max(setup, n * transport.perReadS);
    posting = Math.max(posting, descriptors.get(rank)! * transport.perDescriptorS);
  }
  return { setupS: transport.latencyS + setup, postingS: posting };
}

/** When one READ of a decode rank starts moving bytes, and the fastest it can move them. */
export interface ReadTiming {
  /** Seconds from the transfer's start: the latency, this READ's setup and those before it on its rank, and the
   * posting of the READs before it (a rank posts its READs one after another). */
  startS: number;
  /** Bytes/s: its bytes over its own posting time (descriptors leave as they are posted); undefined without posting cost. */
  rateCap: number | undefined;
}

/**
 * Each READ's start and rate cap, in order (a plan's perRead, or the READs a retry posts again), for the network
 * layer: what transferCost computes for one transfer alone, as flows that can also share links with other transfers
 * (the serving simulation).
 */
export function readSchedule(reads: readonly RankRead[], transport: TransportSpec): ReadTiming[] {
  const elapsed = new Map<number, number>();
  return reads.map((r) => {
    const before = elapsed.get(r.decodeRank) ?? 0;
    const posting = r.descriptors * transport.perDescriptorS;
    elapsed.set(r.decodeRank, before + transport.perReadS + posting);
    return { startS: transport.latencyS + before + transport.perReadS, rateCap: posting > 0 ? r.bytes / posting : undefined };
  });
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
