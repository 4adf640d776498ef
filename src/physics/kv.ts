import { UserError } from '../errors.js';
import type { LlmSpec } from '../spec/catalog.js';
import type { KvCacheDtype, KvLayout } from '../spec/experiment.js';
import { dtypeBytes } from './units.js';

/**
 * What a request's KV cache weighs, and how it is laid out over tensor-parallel ranks. Pure functions.
 *
 * GQA: each token stores K and V for every layer and KV head: 2 x layers x kvHeads x headDim x dtype bytes.
 * MLA: each token stores one latent vector per layer: layers x (kvLoraRank + ropeDim) x dtype bytes, and every TP rank
 * holds all of it (replicated, not split).
 */
export function kvBytesPerToken(llm: LlmSpec): number {
  const b = dtypeBytes(llm.kvDtype);
  if (llm.attention === 'mla') {
    if (!llm.mla) throw new UserError(`model '${llm.id}' is MLA but has no mla shape`);
    return llm.layers * (llm.mla.kvLoraRank + llm.mla.ropeDim) * b;
  }
  return 2 * llm.layers * llm.kvHeads * llm.headDim * b;
}

/**
 * The model as a worker with vLLM's --kv-cache-dtype runs it: 'auto' (or unset) keeps the model's own KV dtype; 'fp8'
 * stores one byte an element, which every KV size, the pool's blocks, the decode step's KV reads and the transfer's
 * bytes then follow (and the compatibility hash, which includes the KV dtype).
 */
export function withKvCacheDtype(llm: LlmSpec, cacheDtype: KvCacheDtype | undefined): LlmSpec {
  if (cacheDtype === undefined || cacheDtype === 'auto' || llm.kvDtype === cacheDtype) return llm;
  return { ...llm, kvDtype: cacheDtype };
}

/**
 * KV heads each rank holds at tensor parallelism tp, as vLLM sizes it: kvHeads / tp when tp <= kvHeads (which must
 * divide), else 1 (each head replicated on tp / kvHeads ranks, which must divide too).
 */
export function kvHeadsPerRank(llm: LlmSpec, tp: number): number {
  checkTp(tp);
  if (llm.attention === 'mla') return 1;
  if (tp <= llm.kvHeads) {
    if (llm.kvHeads % tp !== 0) {
      throw new UserError(`TP ${tp} does not divide the ${llm.kvHeads} KV heads of '${llm.id}'`);
    }
    return llm.kvHeads / tp;
  }
  if (tp % llm.kvHeads !== 0) {
    throw new UserError(`TP ${tp} is not a multiple of the ${llm.kvHeads} KV heads of '${llm.id}' (heads cannot be replicated evenly)`);
  }
  return 1;
}

/** KV bytes per token held by one rank at tensor parallelism tp. */
export function kvBytesPerTokenPerRank(llm: LlmSpec, tp: number): number {
  if (llm.attention === 'mla') {
    checkTp(tp);
    return kvBytesPerToken(llm);
  }
  return 2 * llm.layers * kvHeadsPerRank(llm, tp) * llm.headDim * dtypeBytes(llm.kvDtype);
}

/**
 * How many ranks of a TP group hold each KV byte: every rank for MLA (the latent is replicated), tp / kvHeads when
 * heads are replicated (tp > kvHeads), else 1. The group's distinct KV is its ranks' bytes over this.
 */
export function kvReplication(llm: LlmSpec, tp: number): number {
  checkTp(tp);
  if (llm.attention === 'mla') return tp;
  kvHeadsPerRank(llm, tp); // validates tp against the heads
  return tp > llm.kvHeads ? tp / llm.kvHeads : 1;
}

/** KV blocks a request of `tokens` tokens occupies at `blockSize` tokens per block. */
export function blocksPerRequest(tokens: number, blockSize: number): number {
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new UserError(`block size must be a whole number >= 1, got ${blockSize}`);
  if (!(tokens >= 0)) throw new UserError(`token count must be >= 0, got ${tokens}`);
  return Math.ceil(tokens / blockSize);
}

/**
 * vLLM's tp_ratio: decodeTp / prefillTp when decode is at least as wide, else -(prefillTp / decodeTp). The larger must
 * be a multiple of the smaller.
 */
export function tpRatio(prefillTp: number, decodeTp: number): number {
  checkTp(prefillTp);
  checkTp(decodeTp);
  if (decodeTp >= prefillTp) {
    if (decodeTp % prefillTp !== 0) throw new UserError(`decode TP ${decodeTp} is not a multiple of prefill TP ${prefillTp}`);
    return decodeTp / prefillTp;
  }
  if (prefillTp % decodeTp !== 0) throw new UserError(`prefill TP ${prefillTp} is not a multiple of decode TP ${decodeTp}`);
  return -(prefillTp / decodeTp);
}

/**
 * The prefill ranks decode rank `decodeRank` reads from, following vLLM's NixlConnector: with tp_ratio > 0 (decode at
 * least as wide) one rank, decodeRank // ratio, whose heads it slices; with tp_ratio < 0 the |ratio| ranks
 * decodeRank * |ratio| + i, each filling a chunk of the local block. MLA caches are replicated, so one read suffices.
 */
export function targetRanks(decodeRank: number, prefillTp: number, decodeTp: number, mla = false): number[] {
  const ratio = tpRatio(prefillTp, decodeTp);
  if (!Number.isInteger(decodeRank) || decodeRank < 0 || decodeRank >= decodeTp) {
    throw new UserError(`decode rank ${decodeRank} is outside 0..${decodeTp - 1}`);
  }
  if (ratio > 0) return [Math.floor(decodeRank / ratio)];
  const k = -ratio;
  if (mla) return [decodeRank * k];
  return Array.from({ length: k }, (_, i) => decodeRank * k + i);
}

export interface RankRead {
  decodeRank: number;
  prefillRank: number;
  bytes: number;
  descriptors: number;
}

export interface ReadPlan {
  /** Bytes read by all decode ranks together. */
  bytesTotal: number;
  /** Bytes each decode rank ends up holding for the request. */
  bytesPerDecodeRank: number;
  /** NIXL READ operations per request: one per (decode rank, target prefill rank). */
  reads: number;
  /** Descriptors over all reads. */
  descriptors: number;
  /** Prefill-side blocks of the request. */
  blocks: number;
  perRead: RankRead[];
}


/** Descriptors one READ posts per block it moves: regions it touches x pieces per region (see KvLayout). */
export function descriptorsPerBlock(llm: LlmSpec, layout: KvLayout, prefillTp: number, decodeTp: number, blockSize: number): number {
  const mla = llm.attention === 'mla';
  // MLA caches are replicated whole on every rank, so a read never slices heads.
  const sliced = !mla && prefillTp !== decodeTp;
  const kvTensors = mla ? 1 : 2;
  switch (layout) {
    case 'HND':
      return llm.layers * kvTensors;
    case 'NHD':
      return llm.layers * kvTensors * (sliced ? blockSize : 1);
    case 'flashinfer':
      return llm.layers * (sliced ? 2 : 1);
    case 'cross-layer':
      return sliced ? llm.layers * kvTensors : 1;
  }
}

/**
 * The READs a decode worker issues to pull one request's KV from a prefill worker, in whole prefill blocks, each with
 * descriptorsPerBlock(layout) descriptors per block (default HND: one per (layer, K or V, block), one per (layer,
 * block) for MLA).
 */
export function readPlan(
  llm: LlmSpec,
  tokens: number,
  prefillTp: number,
  decodeTp: number,
  prefillBlockSize: number,
  layout: KvLayout = 'HND',
): ReadPlan {
  const mla = llm.attention === 'mla';
  const blocks = blocksPerRequest(tokens, prefillBlockSize);
  const descriptorsPerRead = descriptorsPerBlock(llm, layout, prefillTp, decodeTp, prefillBlockSize) * blocks;
  // NIXL moves whole blocks: a request's last, partly filled block travels in full.
  const perDecodeRank = kvBytesPerTokenPerRank(llm, decodeTp) * blocks * prefillBlockSize;
  kvBytesPerTokenPerRank(llm, prefillTp); // validates the prefill TP against the heads too
  const perRead: RankRead[] = [];
  for (let d = 0; d < decodeTp; d++) {
    const targets = targetRanks(d, prefillTp, decodeTp, mla);
    // The decode rank's share of the request comes in equal chunks from its targets.
    const bytes = perDecodeRank / targets.length;
    for (const p of targets) perRead.push({ decodeRank: d, prefillRank: p, bytes, descriptors: descriptorsPerRead });
  }
  return {
    bytesTotal: perDecodeRank * decodeTp,
    bytesPerDecodeRank: perDecodeRank,
    reads: perRead.length,
    descriptors: perRead.length * descriptorsPerRead,
    blocks,
    perRead,
  };
}

function checkTp(tp: number): void {
  if (!Number.isInteger(tp) || tp < 1) throw new UserError(`tensor parallel size must be a whole number >= 1, got ${tp}`);
}
