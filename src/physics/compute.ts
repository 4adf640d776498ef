import type { GpuSpec, LlmSpec } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import { kvBytesPerTokenPerRank } from './kv.js';
import { dtypeBytes } from './units.js';

/**
 * How long a vLLM engine step takes on a TP group of GPUs. Each term is a mechanism vLLM and the hardware have:
 *
 *   step = host + max(gpu, launch)
 *   host   = stepOverheadS (+ connectorStepOverheadS on a disaggregated decode worker): scheduling, input
 *            preparation, sampling, output processing, the KV connector's reads and polling; the GPU idles meanwhile
 *            (vLLM without async scheduling)
 *   gpu    = max(compute, memory) + all-reduces; compute = FLOPs at a fraction of peak, memory = weights + KV context
 *            at a fraction of HBM bandwidth (a roofline); all-reduces = two per layer, each latency + ring bytes
 *   launch = kernel launches from the host, which overlap the GPU's work: none for a decode-only batch replayed as one
 *            full CUDA graph, layers x piecewiseLayerOverheadS for piecewise graphs (mixed batches, attention launched
 *            eagerly), layers x eagerLayerOverheadS under --enforce-eager
 *
 * Pure functions; the factors come from the GPU's catalog record unless overridden (calibration and Monte Carlo draw
 * them from their ranges).
 */
export interface Efficiency {
  prefillCompute: number;
  decodeMemory: number;
  /** Host time per step that does not overlap the GPU, seconds. */
  stepOverheadS: number;
  /** Kernel launches per layer under --enforce-eager, seconds. */
  eagerLayerOverheadS: number;
  /** Kernel launches per layer of a piecewise CUDA-graph step, seconds. */
  piecewiseLayerOverheadS: number;
  /** Latency of one tensor-parallel all-reduce, seconds. */
  allReduceLatencyS: number;
  /** Extra host time per step on a disaggregated decode worker (its KV connector pulls the KV), seconds. */
  connectorStepOverheadS: number;
}

export function defaultEfficiency(gpu: GpuSpec): Efficiency {
  const e = gpu.efficiency;
  return {
    prefillCompute: e.prefillCompute.value,
    decodeMemory: e.decodeMemory.value,
    stepOverheadS: e.stepOverheadS.value,
    eagerLayerOverheadS: e.eagerLayerOverheadS.value,
    piecewiseLayerOverheadS: e.piecewiseLayerOverheadS.value,
    allReduceLatencyS: e.allReduceLatencyS.value,
    connectorStepOverheadS: e.connectorStepOverheadS.value,
  };
}

/**
 * How a step's kernels reach the GPU (vLLM's cudagraph_mode FULL_AND_PIECEWISE, the default since v0.11.0): one full
 * graph for a decode-only batch up to the largest captured size, piecewise graphs otherwise, none under
 * --enforce-eager.
 */
export type GraphMode = 'full' | 'piecewise' | 'eager';

/** The engine-side facts a step's cost depends on besides the model, GPU and TP. */
export interface StepContext {
  /** --enforce-eager. */
  enforceEager: boolean;
  /** The largest decode batch captured as a full CUDA graph (min(2 x max_num_seqs, 512, max_num_batched_tokens)). */
  maxCaptureSize: number;
  /** The worker pulls KV through a connector (a disaggregated decode worker). */
  connector: boolean;
  /**
   * Where the TP group spans more GPUs than a node has (vLLM across nodes, with Ray), its all-reduces cross the NICs:
   * the node's GPU count, and the NIC bandwidth per GPU (bytes/s: the node's NICs x line rate / its GPUs). Unless the
   * group stays inside the node's NVLink domain (nvlinkDomainGpus, GB200 NVL72: 72), which NVLink spans across nodes.
   */
  node?: { gpusPerNode: number; nicBandwidthPerGpu: number; nvlinkDomainGpus?: number };
}

export const DEFAULT_STEP_CONTEXT: StepContext = { enforceEager: false, maxCaptureSize: 512, connector: false };

/** vLLM's largest captured CUDA-graph batch: min(max_num_seqs x 2, 512), capped at max_num_batched_tokens. */
export function maxCaptureSize(maxNumSeqs: number, maxNumBatchedTokens: number): number {
  return Math.min(maxNumSeqs * 2, 512, maxNumBatchedTokens);
}

/** The graph mode of a step with `prefills` prefill chunks and `decodes` decoding sequences. */
export function graphMode(ctx: StepContext, prefills: number, decodes: number): GraphMode {
  if (ctx.enforceEager) return 'eager';
  return prefills === 0 && decodes <= ctx.maxCaptureSize ? 'full' : 'piecewise';
}

/** Host time per step that the GPU waits for: the engine's own, plus the connector's on a disaggregated decode worker. */
export function hostTime(eff: Efficiency, connector: boolean): number {
  return eff.stepOverheadS + (connector ? eff.connectorStepOverheadS : 0);
}

/** Kernel-launch time of one step in a graph mode (it overlaps the GPU's work). */
export function launchTime(llm: LlmSpec, eff: Efficiency, mode: GraphMode): number {
  if (mode === 'full') return 0;
  return llm.layers * (mode === 'eager' ? eff.eagerLayerOverheadS : eff.piecewiseLayerOverheadS);
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
 * One all-reduce of `bytes` per rank across tp ranks over NVLink: a fixed latency (launch, synchronisation across the
 * ranks) plus a ring's traffic, each rank sending and receiving 2 x (tp - 1) / tp x bytes at the per-direction
 * bandwidth (half the bidirectional datasheet figure). Small all-reduces (decode) are latency-bound.
 */
export function allReduceTime(gpu: GpuSpec, tp: number, bytes: number, latencyS = 0, bandwidth = gpu.nvlinkBandwidth / 2): number {
  if (tp <= 1) return 0;
  return latencyS + (2 * (tp - 1) * bytes) / tp / bandwidth;
}

/**
 * The per-direction bandwidth a TP group's ring all-reduce runs at: NVLink's (half the bidirectional figure) inside
 * the NVLink domain (a node, or the nodes one NVLink switch system joins: a GB200 NVL72 rack); the NIC bandwidth per
 * GPU where the group spans more than that, since the ring's slowest hops then cross the fabric.
 */
export function allReduceBandwidth(gpu: GpuSpec, tp: number, node?: StepContext['node']): number {
  const nvlink = gpu.nvlinkBandwidth / 2;
  const domain = node === undefined ? Infinity : Math.max(node.gpusPerNode, node.nvlinkDomainGpus ?? node.gpusPerNode);
  return node !== undefined && tp > domain ? Math.min(nvlink, node.nicBandwidthPerGpu) : nvlink;
}

/** All-reduces of one step: two per layer (after attention and after the MLP) of tokens x hidden activations. */
function stepAllReduce(llm: LlmSpec, gpu: GpuSpec, tp: number, tokens: number, latencyS: number, bandwidth: number): number {
  const bytes = tokens * llm.hiddenSize * 2; // bf16 activations
  return 2 * llm.layers * allReduceTime(gpu, tp, bytes, latencyS, bandwidth);
}

export interface StepTime {
  totalS: number;
  computeS: number;
  memoryS: number;
  allReduceS: number;
  /** Host time the GPU waits for. */
  overheadS: number;
  /** Kernel-launch time (overlapping the GPU's work). */
  launchS: number;
  mode: GraphMode;
}

/** One prefill step over a batch of prompts (lengths in tokens, with optional already-cached prefixes), on tp GPUs. */
export function prefillStepTime(
  llm: LlmSpec,
  gpu: GpuSpec,
  tp: number,
  prompts: readonly { tokens: number; cached?: number }[],
  eff: Efficiency = defaultEfficiency(gpu),
  ctx: StepContext = DEFAULT_STEP_CONTEXT,
): StepTime {
  const prefill = prompts.map((p) => ({ tokens: Math.max(0, p.tokens - (p.cached ?? 0)), cached: p.cached ?? 0 }));
  return stepTime(llm, gpu, tp, { prefill, decode: [] }, eff, ctx);
}

/** One decode step for a batch of sequences with the given context lengths; one new token per sequence. */
export function decodeStepTime(
  llm: LlmSpec,
  gpu: GpuSpec,
  tp: number,
  contexts: readonly number[],
  eff: Efficiency = defaultEfficiency(gpu),
  ctx: StepContext = DEFAULT_STEP_CONTEXT,
): StepTime {
  return stepTime(llm, gpu, tp, { prefill: [], decode: contexts }, eff, ctx);
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
  /**
   * Speculative decoding: the tokens each decode sequence runs through the target this step (1 + its draft tokens to
   * verify), by index of `decode`. Absent: 1 each.
   */
  decodeQueries?: readonly number[];
}

/** A step's decode batch summed once: its query tokens, their context, and the largest of each for one sequence. */
export interface DecodeTotals {
  /** Query tokens: one a sequence, or decodeQueries' (verifying drafts). */
  tokens: number;
  /** Context tokens read, each sequence's once. */
  context: number;
  /** Context attended to: each query token attends to its sequence's context. */
  queryContext: number;
  /** The longest context and the most query tokens of one sequence (1 without drafts). */
  longest: number;
  most: number;
}

/** Fills `into` (a cost model's own, reused every step: no allocation on the hot path) from the decode batch. */
export function sumDecode(work: StepWork, into: DecodeTotals): DecodeTotals {
  const d = work.decode;
  const q = work.decodeQueries;
  let tokens = 0;
  let context = 0;
  let queryContext = 0;
  let longest = 0;
  let most = 1;
  for (let i = 0; i < d.length; i++) {
    const c = d[i]!;
    const n = q ? q[i]! : 1;
    tokens += n;
    context += c;
    queryContext += n * c;
    if (c > longest) longest = c;
    if (n > most) most = n;
  }
  into.tokens = tokens;
  into.context = context;
  into.queryContext = queryContext;
  into.longest = longest;
  into.most = most;
  return into;
}

/**
 * A mixed vLLM step (chunked prefill batches prefill chunks with decodes in one forward pass): the FLOPs of all
 * tokens, the weights read once plus every sequence's KV context, one roofline, the all-reduces of all tokens, the
 * kernel launches of its graph mode and the host's time. With only prefill or only decode work it reduces to
 * prefillStepTime / decodeStepTime.
 */
export function stepTime(
  llm: LlmSpec,
  gpu: GpuSpec,
  tp: number,
  work: StepWork,
  eff: Efficiency = defaultEfficiency(gpu),
  ctx: StepContext = DEFAULT_STEP_CONTEXT,
): StepTime {
  const out: StepTime = { totalS: 0, computeS: 0, memoryS: 0, allReduceS: 0, overheadS: 0, launchS: 0, mode: 'full' };
  new StepCost(llm, gpu, tp, eff, ctx).time(work, out);
  return out;
}

/**
 * stepTime for one engine, whose model, GPU, TP and efficiency never change: the figures that depend on those alone
 * are worked out once, and seconds() allocates nothing (an engine step is the simulation's most frequent event).
 * Every product is formed in the order stepTime always formed it, so the results are the same to the last bit.
 */
export class StepCost {
  private readonly decodeTotals: DecodeTotals = { tokens: 0, context: 0, queryContext: 0, longest: 0, most: 1 };
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
  private readonly hostS: number;
  private readonly launchS: Record<GraphMode, number>;
  private readonly allReduceLatencyS: number;
  private readonly allReduceBandwidth: number;

  constructor(
    private readonly llm: LlmSpec,
    private readonly gpu: GpuSpec,
    private readonly tp: number,
    eff: Efficiency = defaultEfficiency(gpu),
    private readonly ctx: StepContext = DEFAULT_STEP_CONTEXT,
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
    this.hostS = hostTime(eff, ctx.connector);
    this.launchS = { full: launchTime(llm, eff, 'full'), piecewise: launchTime(llm, eff, 'piecewise'), eager: launchTime(llm, eff, 'eager') };
    this.allReduceLatencyS = eff.allReduceLatencyS;
    this.allReduceBandwidth = allReduceBandwidth(gpu, tp, ctx.node);
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
    // Verifying drafts: every query token of a sequence runs the matmuls and attends to its context (read once).
    const dec = sumDecode(work, this.decodeTotals);
    const batch = work.decode.length;
    const decodeContext = dec.context;
    const decodeTokens = dec.tokens;
    linear += this.twoMatmulParams * decodeTokens;
    attention += this.decodeAttentionPerContext * dec.queryContext;
    tokens += decodeTokens;
    // Weights are read once per step (MoE: the experts the batch touches); every context, cached prompt prefix or
    // decode history, is read from HBM once.
    const seqs = work.prefill.length + batch;
    const weightsRead = Math.min(llm.params, llm.activeParams * Math.max(1, seqs)) * this.weightBytes;
    const kvRead = (cachedContext + decodeContext) * this.kvBytesPerToken;
    const memoryS = (weightsRead / this.tp + kvRead) / this.memoryBandwidth;
    const computeS = (linear / this.matmulPeak + attention / this.attentionPeak) / this.computeScale;
    const allReduceS = stepAllReduce(llm, this.gpu, this.tp, tokens, this.allReduceLatencyS, this.allReduceBandwidth);
    // CUDA graphs are captured by token count: a uniform decode batch verifying drafts replays one while its tokens fit.
    const mode = graphMode(this.ctx, work.prefill.length, decodeTokens);
    const launchS = this.launchS[mode];
    const totalS = this.hostS + Math.max(Math.max(computeS, memoryS) + allReduceS, launchS);
    if (out) {
      out.totalS = totalS;
      out.computeS = computeS;
      out.memoryS = memoryS;
      out.allReduceS = allReduceS;
      out.overheadS = this.hostS;
      out.launchS = launchS;
      out.mode = mode;
    }
    return totalS;
  }
}
