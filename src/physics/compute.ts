import type { GpuSpec, LlmSpec } from '../catalog/types.js';
import { UserError } from '../errors.js';
import { kvBytesPerTokenPerRank } from './kv.js';
import { dtypeBytes } from './units.js';

/**
 * How long an engine step takes on a TP group of GPUs: a roofline (the slower of compute and memory traffic) plus the
 * tensor-parallel all-reduces over NVLink plus a fixed per-step overhead. Pure functions; the efficiencies come from
 * the GPU's catalog record unless overridden (calibration and Monte Carlo draw them from their ranges).
 */
export interface Efficiency {
  prefillCompute: number;
  decodeMemory: number;
  stepOverheadS: number;
  /** Extra per layer per step under --enforce-eager; counted only where the engine runs eagerly. */
  eagerLayerOverheadS: number;
}

export function defaultEfficiency(gpu: GpuSpec): Efficiency {
  return {
    prefillCompute: gpu.efficiency.prefillCompute.value,
    decodeMemory: gpu.efficiency.decodeMemory.value,
    stepOverheadS: gpu.efficiency.stepOverheadS.value,
    eagerLayerOverheadS: gpu.efficiency.eagerLayerOverheadS.value,
  };
}

/** The fixed cost of one step: the GPU's overhead, plus a kernel-launch cost per layer when running eagerly. */
export function stepOverhead(llm: LlmSpec, eff: Efficiency, enforceEager = false): number {
  return eff.stepOverheadS + (enforceEager ? llm.layers * eff.eagerLayerOverheadS : 0);
}

/** Parameters that multiply every token in a matmul: all but the embedding table and the LM head (untied). */
export function matmulParams(llm: LlmSpec): number {
  return llm.activeParams - 2 * llm.vocabSize * llm.hiddenSize;
}

/** Bytes of weights one rank holds at tensor parallelism tp. */
export function weightBytesPerRank(llm: LlmSpec, tp: number): number {
  return (llm.params * dtypeBytes(llm.weightDtype)) / tp;
}

/** Peak FLOP/s for the model's matmul dtype, falling back to bf16 where the GPU has no fp8 units (A100). */
function matmulPeak(llm: LlmSpec, gpu: GpuSpec): number {
  return llm.weightDtype === 'fp8' && gpu.flops.fp8 !== null ? gpu.flops.fp8 : gpu.flops.bf16;
}

/** Width of the attention products per layer (heads x head dim; MLA in its absorbed, latent form). */
function attentionWidth(llm: LlmSpec): number {
  return llm.heads * (llm.attention === 'mla' && llm.mla ? llm.mla.kvLoraRank + llm.mla.ropeDim : llm.headDim);
}

/**
 * FLOPs to prefill one prompt of `tokens` tokens, of which `cached` already have KV (prefix hits or earlier chunks):
 * 2 FLOPs per matmul parameter per new token, the LM head for the last token only, and causal attention: each new
 * token at position i attends to i earlier positions, QK^T and AV each 2 x width FLOPs per pair.
 */
export function prefillFlops(llm: LlmSpec, tokens: number, cached = 0): { linear: number; attention: number } {
  const fresh = Math.max(0, tokens - cached);
  const linear = 2 * matmulParams(llm) * fresh + 2 * llm.vocabSize * llm.hiddenSize;
  const attention = llm.layers * 2 * 2 * attentionWidth(llm) * causalPairs(tokens, cached);
  return { linear, attention };
}

/** (query, earlier key) pairs of new positions [cached, tokens), causal: the sum of their positions. */
function causalPairs(tokens: number, cached: number): number {
  return (tokens * (tokens + 1)) / 2 - (cached * (cached + 1)) / 2;
}

/**
 * Ring all-reduce time for `bytes` per rank across tp ranks over NVLink: each rank sends and receives
 * 2 x (tp - 1) / tp x bytes, at the per-direction bandwidth (half the bidirectional datasheet figure).
 */
export function allReduceTime(gpu: GpuSpec, tp: number, bytes: number): number {
  if (tp <= 1) return 0;
  return (2 * (tp - 1) * bytes) / tp / (gpu.nvlinkBandwidth / 2);
}

/** All-reduces of one step: two per layer (after attention and after the MLP) of tokens x hidden activations. */
function stepAllReduce(llm: LlmSpec, gpu: GpuSpec, tp: number, tokens: number): number {
  const bytes = tokens * llm.hiddenSize * 2; // bf16 activations
  return 2 * llm.layers * allReduceTime(gpu, tp, bytes);
}

export interface StepTime {
  totalS: number;
  computeS: number;
  memoryS: number;
  allReduceS: number;
  overheadS: number;
}

/** One prefill step over a batch of prompts (lengths in tokens, with optional already-cached prefixes), on tp GPUs. */
export function prefillStepTime(
  llm: LlmSpec,
  gpu: GpuSpec,
  tp: number,
  prompts: readonly { tokens: number; cached?: number }[],
  eff: Efficiency = defaultEfficiency(gpu),
): StepTime {
  const prefill = prompts.map((p) => ({ tokens: Math.max(0, p.tokens - (p.cached ?? 0)), cached: p.cached ?? 0 }));
  return stepTime(llm, gpu, tp, { prefill, decode: [] }, eff);
}

/** One decode step for a batch of sequences with the given context lengths; one new token per sequence. */
export function decodeStepTime(
  llm: LlmSpec,
  gpu: GpuSpec,
  tp: number,
  contexts: readonly number[],
  eff: Efficiency = defaultEfficiency(gpu),
): StepTime {
  return stepTime(llm, gpu, tp, { prefill: [], decode: contexts }, eff);
}

function checkPositive(v: number, name: string): void {
  if (!(v >= 1) || !Number.isInteger(v)) throw new UserError(`${name} must be a whole number >= 1, got ${v}`);
}

/** One sequence's share of an engine step: a prefill chunk (tokens new this step, after `cached` already in KV) or a decode. */
export interface StepWork {
  /** Prefill chunks: new tokens and the context already in KV before them. */
  prefill: readonly { tokens: number; cached: number }[];
  /** Decode sequences: their context lengths (each produces one token). */
  decode: readonly number[];
}

/**
 * A mixed vLLM step (chunked prefill batches prefill chunks with decodes in one forward pass): the FLOPs of all
 * tokens, the weights read once plus every sequence's KV context, one roofline, the all-reduces of all tokens, and
 * the per-step overhead. With only prefill or only decode work it reduces to prefillStepTime / decodeStepTime.
 */
export function stepTime(
  llm: LlmSpec,
  gpu: GpuSpec,
  tp: number,
  work: StepWork,
  eff: Efficiency = defaultEfficiency(gpu),
  enforceEager = false,
): StepTime {
  const out: StepTime = { totalS: 0, computeS: 0, memoryS: 0, allReduceS: 0, overheadS: 0 };
  new StepCost(llm, gpu, tp, eff, enforceEager).time(work, out);
  return out;
}

/**
 * stepTime for one engine, whose model, GPU, TP and efficiency never change: the figures that depend on those alone
 * are worked out once, and seconds() allocates nothing (an engine step is the simulation's most frequent event).
 * Every product is formed in the order stepTime always formed it, so the results are the same to the last bit.
 */
export class StepCost {
  private readonly twoMatmulParams: number;
  private readonly lmHeadFlops: number;
  private readonly prefillAttentionPerPair: number;
  private readonly decodeAttentionPerContext: number;
  private readonly weightBytes: number;
  private readonly kvBytesPerToken: number;
  private readonly memoryBandwidth: number;
  private readonly matmulPeak: number;
  private readonly attentionPeak: number;
  private readonly computeScale: number;
  private readonly overheadS: number;

  constructor(
    private readonly llm: LlmSpec,
    private readonly gpu: GpuSpec,
    private readonly tp: number,
    eff: Efficiency = defaultEfficiency(gpu),
    enforceEager = false,
  ) {
    checkPositive(tp, 'tp');
    const width = attentionWidth(llm);
    this.twoMatmulParams = 2 * matmulParams(llm);
    this.lmHeadFlops = 2 * llm.vocabSize * llm.hiddenSize;
    this.prefillAttentionPerPair = llm.layers * 2 * 2 * width;
    this.decodeAttentionPerContext = 2 * 2 * width * llm.layers;
    this.weightBytes = dtypeBytes(llm.weightDtype);
    this.kvBytesPerToken = kvBytesPerTokenPerRank(llm, tp);
    this.memoryBandwidth = gpu.hbmBandwidth * eff.decodeMemory;
    this.matmulPeak = matmulPeak(llm, gpu);
    this.attentionPeak = gpu.flops.bf16;
    this.computeScale = tp * eff.prefillCompute;
    this.overheadS = stepOverhead(llm, eff, enforceEager);
  }

  /** Seconds the step takes. */
  seconds(work: StepWork): number {
    return this.time(work, null);
  }

  /** Seconds the step takes; with `out`, its parts too. */
  time(work: StepWork, out: StepTime | null): number {
    const llm = this.llm;
    let linear = 0;
    let attention = 0;
    let tokens = 0;
    let cachedContext = 0;
    for (const p of work.prefill) {
      // prefillFlops(llm, p.cached + p.tokens, p.cached), term by term.
      const all = p.cached + p.tokens;
      const fresh = Math.max(0, all - p.cached);
      linear += this.twoMatmulParams * fresh + this.lmHeadFlops;
      attention += this.prefillAttentionPerPair * causalPairs(all, p.cached);
      tokens += p.tokens;
      cachedContext += p.cached;
    }
    const batch = work.decode.length;
    let decodeContext = 0;
    for (const c of work.decode) decodeContext += c;
    linear += this.twoMatmulParams * batch;
    attention += this.decodeAttentionPerContext * decodeContext;
    tokens += batch;
    // Weights are read once per step (MoE: the experts the batch touches); every context, cached prompt prefix or
    // decode history, is read from HBM once.
    const seqs = work.prefill.length + batch;
    const weightsRead = Math.min(llm.params, llm.activeParams * Math.max(1, seqs)) * this.weightBytes;
    const kvRead = (cachedContext + decodeContext) * this.kvBytesPerToken;
    const memoryS = (weightsRead / this.tp + kvRead) / this.memoryBandwidth;
    const computeS = (linear / this.matmulPeak + attention / this.attentionPeak) / this.computeScale;
    const allReduceS = stepAllReduce(llm, this.gpu, this.tp, tokens);
    const totalS = Math.max(computeS, memoryS) + allReduceS + this.overheadS;
    if (out) {
      out.totalS = totalS;
      out.computeS = computeS;
      out.memoryS = memoryS;
      out.allReduceS = allReduceS;
      out.overheadS = this.overheadS;
    }
    return totalS;
  }
}
