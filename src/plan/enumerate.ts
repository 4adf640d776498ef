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

/** TP sizes of prefill or decode workers on hardware of their own (absent: the sizes of the deployment's GPU). */
export interface RoleSizes {
  prefill?: readonly number[];
  decode?: readonly number[];
}

export function candidateGpus(c: Candidate): number {
  return c.mode === 'aggregated' ? c.aggregated.workers * c.aggregated.tp : c.prefill.workers * c.prefill.tp + c.decode.workers * c.decode.tp;
}

/** A stable id, also a file-name-safe token: `agg-8xtp1`, `disagg-6xtp1-2xtp1` (prefill first). */
export function candidateId(c: Candidate): string {
  return c.mode === 'aggregated'
    ? `agg-${c.aggregated.workers}xtp${c.aggregated.tp}`
    : `disagg-${c.prefill.workers}xtp${c.prefill.tp}-${c.decode.workers}xtp${c.decode.tp}`;
}

/** How a report names it: `aggregated 8 x TP1`, `disaggregated 6P x TP1 + 2D x TP1`. */
export function candidateLabel(c: Candidate): string {
  return c.mode === 'aggregated'
    ? `aggregated ${c.aggregated.workers} x TP${c.aggregated.tp}`
    : `disaggregated ${c.prefill.workers}P x TP${c.prefill.tp} + ${c.decode.workers}D x TP${c.decode.tp}`;
}

/**
 * Every configuration that uses the budget: aggregated, floor(gpus / tp) replicas of each TP size; disaggregated, each
 * (prefill TP, decode TP) pair and every P >= 1, D >= 1 with P x prefill TP + D x decode TP <= gpus such that no
 * further worker of either kind fits in the GPUs left over. A configuration that leaves room for another worker is
 * dominated by the one that adds it, so it is not tried. Order: aggregated by TP, then disaggregated by prefill TP,
 * decode TP and prefill workers.
 */
export function enumerate(gpus: number, sizes: readonly number[], roles: RoleSizes = {}): Candidate[] {
  if (!Number.isInteger(gpus) || gpus < 1) throw new UserError(`--gpus must be a whole number >= 1, got ${gpus}`);
  const out: Candidate[] = [];
  for (const tp of sizes) {
    const workers = Math.floor(gpus / tp);
    if (workers >= 1) out.push({ mode: 'aggregated', aggregated: { workers, tp } });
  }
  for (const pTp of roles.prefill ?? sizes) {
    for (const dTp of roles.decode ?? sizes) {
      for (let p = 1; p * pTp + dTp <= gpus; p++) {
        for (let d = 1; p * pTp + d * dTp <= gpus; d++) {
          const left = gpus - p * pTp - d * dTp;
          if (left < Math.min(pTp, dTp)) out.push({ mode: 'disaggregated', prefill: { workers: p, tp: pTp }, decode: { workers: d, tp: dTp } });
        }
      }
    }
  }
  return out;
}
