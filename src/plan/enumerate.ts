/**
 * The deployments a GPU budget allows: aggregated (replicas x TP) and disaggregated (prefill workers x TP plus decode
 * workers x TP, every P:D ratio). Pure: which of them can actually run is prune.ts's question.
 */
import type { LlmSpec, NodeSpec } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import { kvHeadsPerRank } from '../physics/index.js';

/** Tensor-parallel sizes the planner tries: the powers of two vLLM deployments use within one node. */
export const TP_CANDIDATES = [1, 2, 4, 8] as const;

export interface WorkerShape {
  workers: number;
  tp: number;
  /** Data-parallel attention ranks of tp GPUs each (MoE models; absent: 1). */
  dp?: number;
  /** Expert-parallel size, tp x dp with --enable-expert-parallel (MoE models; absent: 1). */
  ep?: number;
}

/** A worker's parallelism without the worker count: a TP size, or DP ranks with an expert group. */
export type Shape = Omit<WorkerShape, 'workers'>;

/** Sizes of the expert group the planner tries for MoE models (DP attention ranks of TP1, EP over all of them). */
export const DP_EP_CANDIDATES = [2, 4, 8, 16] as const;

/** GPUs of one worker of this shape: tp x dp. */
export function shapeGpus(g: Shape): number {
  return g.tp * (g.dp ?? 1);
}

/** A TP size as a shape; a shape as it is. */
function asShape(x: number | Shape): Shape {
  return typeof x === 'number' ? { tp: x } : x;
}

/** A shape as ids name it: `tp8`, `dp8ep8`, `tp2dp4ep8` (tp only when > 1 beside dp). */
export function shapeToken(g: Shape): string {
  const dp = g.dp ?? 1;
  const ep = g.ep ?? 1;
  if (dp === 1 && ep === 1) return `tp${g.tp}`;
  return `${g.tp > 1 ? `tp${g.tp}` : ''}dp${dp}${ep > 1 ? `ep${ep}` : ''}`;
}

/** A shape as reports name it: `TP8`, `DP8/EP8`, `TP2 x DP4/EP8`. */
export function shapeText(g: Shape): string {
  const dp = g.dp ?? 1;
  const ep = g.ep ?? 1;
  if (dp === 1 && ep === 1) return `TP${g.tp}`;
  return `${g.tp > 1 ? `TP${g.tp} x ` : ''}DP${dp}${ep > 1 ? `/EP${ep}` : ''}`;
}

/**
 * The DP/EP shapes a MoE model's workers can have on this node: `{tp: 1, dp: g, ep: g}` (vLLM's data-parallel
 * attention with --enable-expert-parallel) for each g of DP_EP_CANDIDATES within the node's NVLink domain, or spanning
 * at most two nodes (the expert all-to-all crosses the NICs, as DeepEP's internode kernels do), and only where the
 * node names all-to-all kernels to price EP with. None for a dense model. Whether the weights fit, and the loader's
 * rules, are the planner's and prune.ts's questions.
 */
export function dpEpShapes(llm: LlmSpec, node: NodeSpec): Shape[] {
  if (!llm.moe || node.allToAll === undefined) return [];
  const domain = Math.max(node.gpusPerNode, node.nvlinkDomainGpus ?? node.gpusPerNode);
  return DP_EP_CANDIDATES.filter((g) => g <= domain || g <= 2 * node.gpusPerNode).map((g) => ({ tp: 1, dp: g, ep: g }));
}

export type Candidate =
  | { mode: 'aggregated'; aggregated: WorkerShape }
  | { mode: 'disaggregated'; prefill: WorkerShape; decode: WorkerShape };

export interface TpChoice {
  /** The sizes configurations are built from, ascending. */
  sizes: number[];
  /** The candidate sizes left out, and why. */
  excluded: { tp: number; reason: string }[];
}

/**
 * TP sizes a worker can use: its all-reduces must stay on NVLink, so at most the GPUs of the node's NVLink domain (the
 * node itself on an HGX/DGX board; a GB200 NVL72 rack's 72 GPUs, where a worker spans compute trays over NVLink); and
 * vLLM needs the TP size to split the model's KV heads evenly (or replicate them evenly, beyond the head count), as the
 * experiment loader checks.
 */
export function tpSizes(llm: LlmSpec, node: NodeSpec): TpChoice {
  const sizes: number[] = [];
  const excluded: { tp: number; reason: string }[] = [];
  const domain = Math.max(node.gpusPerNode, node.nvlinkDomainGpus ?? node.gpusPerNode);
  for (const tp of TP_CANDIDATES) {
    if (tp > domain) {
      excluded.push({
        tp,
        reason:
          domain > node.gpusPerNode
            ? `a worker stays inside one NVLink domain and '${node.id}' has ${domain} GPUs in its domain`
            : `a worker lives on one node and '${node.id}' has ${node.gpusPerNode} GPUs`,
      });
      continue;
    }
    try {
      kvHeadsPerRank(llm, tp);
      sizes.push(tp);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      excluded.push({ tp, reason: err.message });
    }
  }
  return { sizes, excluded };
}

/** Shapes (TP sizes, or DP/EP shapes) of prefill or decode workers on hardware of their own (absent: the deployment's). */
export interface RoleSizes {
  prefill?: readonly (number | Shape)[];
  decode?: readonly (number | Shape)[];
}

export function candidateGpus(c: Candidate): number {
  return c.mode === 'aggregated' ? c.aggregated.workers * shapeGpus(c.aggregated) : c.prefill.workers * shapeGpus(c.prefill) + c.decode.workers * shapeGpus(c.decode);
}

/** A stable id, also a file-name-safe token: `agg-8xtp1`, `disagg-6xtp1-2xtp1` (prefill first), `disagg-2xdp8ep8-1xdp8ep8`. */
export function candidateId(c: Candidate): string {
  return c.mode === 'aggregated'
    ? `agg-${c.aggregated.workers}x${shapeToken(c.aggregated)}`
    : `disagg-${c.prefill.workers}x${shapeToken(c.prefill)}-${c.decode.workers}x${shapeToken(c.decode)}`;
}

/** How a report names it: `aggregated 8 x TP1`, `disaggregated 6P x TP1 + 2D x TP1`, `disaggregated 2P x DP8/EP8 + 1D x DP8/EP8`. */
export function candidateLabel(c: Candidate): string {
  return c.mode === 'aggregated'
    ? `aggregated ${c.aggregated.workers} x ${shapeText(c.aggregated)}`
    : `disaggregated ${c.prefill.workers}P x ${shapeText(c.prefill)} + ${c.decode.workers}D x ${shapeText(c.decode)}`;
}

/**
 * Every configuration that uses the budget: aggregated, floor(gpus / width) replicas of each shape (width: its GPUs,
 * tp x dp); disaggregated, each (prefill shape, decode shape) pair and every P >= 1, D >= 1 with P x prefill width +
 * D x decode width <= gpus such that no further worker of either kind fits in the GPUs left over. A configuration that
 * leaves room for another worker is dominated by the one that adds it, so it is not tried. Order: aggregated by shape,
 * then disaggregated by prefill shape, decode shape and prefill workers, shapes in the order given (a TP size is the
 * shape `{tp}`).
 */
export function enumerate(gpus: number, sizes: readonly (number | Shape)[], roles: RoleSizes = {}): Candidate[] {
  if (!Number.isInteger(gpus) || gpus < 1) throw new UserError(`--gpus must be a whole number >= 1, got ${gpus}`);
  const out: Candidate[] = [];
  for (const g of sizes.map(asShape)) {
    const workers = Math.floor(gpus / shapeGpus(g));
    if (workers >= 1) out.push({ mode: 'aggregated', aggregated: { workers, ...g } });
  }
  for (const pg of (roles.prefill ?? sizes).map(asShape)) {
    for (const dg of (roles.decode ?? sizes).map(asShape)) {
      const [pw, dw] = [shapeGpus(pg), shapeGpus(dg)];
      for (let p = 1; p * pw + dw <= gpus; p++) {
        for (let d = 1; p * pw + d * dw <= gpus; d++) {
          const left = gpus - p * pw - d * dw;
          if (left < Math.min(pw, dw)) out.push({ mode: 'disaggregated', prefill: { workers: p, ...pg }, decode: { workers: d, ...dg } });
        }
      }
    }
  }
  return out;
}
