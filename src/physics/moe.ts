import type { AllToAllSpec, GpuSpec, LlmSpec, MoeShape } from '../spec/catalog.js';
import type { AllToAllMode } from '../spec/experiment.js';
import { UserError } from '../errors.js';
import {
  allReduceBandwidth,
  allReduceTime,
  DEFAULT_STEP_CONTEXT,
  defaultEfficiency,
  hostTime,
  launchTime,
  sumDecode,
  type DecodeTotals,
  type Efficiency,
  type GraphMode,
  type StepContext,
  type StepTime,
  type StepWork,
  weightBytesPerRank,
} from './compute.js';
import { kvBytesPerTokenPerRank } from './kv.js';
import { dtypeBytes } from './units.js';

/**
 * Mixture-of-experts workers with data-parallel attention and expert parallelism, as vLLM runs them
 * (docs/serving/data_parallel_deployment.md, expert_parallel_deployment.md):
 *
 * - a worker is `dp` data-parallel ranks of `tp` GPUs each (tp x dp GPUs). Each DP rank is its own engine core with its
 *   own scheduler, max_num_seqs, max_num_batched_tokens and KV cache; attention, the dense layers' FFNs, the shared
 *   experts and the LM head run on each rank's TP group for that rank's requests;
 * - the routed experts form one group of all tp x dp GPUs: split by expert (`ep` = tp x dp, --enable-expert-parallel),
 *   tokens travelling to their experts' GPUs and back (all-to-all dispatch and combine, DeepEP's kernels), or split by
 *   tensor parallelism over the same GPUs (`ep` = 1, vLLM's default), the tokens of every rank all-gathered first and
 *   the outputs reduce-scattered after;
 * - the ranks run each MoE layer in lockstep (a rank without requests runs a dummy batch), so a step lasts as long as
 *   its busiest rank.
 *
 * Pure functions and one cost class (MoeStepCost) with StepCost's interface. Dense models and MoE models without DP
 * or EP keep StepCost (compute.ts), unchanged.
 */
export interface Parallelism {
  /** Tensor-parallel GPUs of each data-parallel rank. */
  tp: number;
  /** Data-parallel attention ranks of the worker. */
  dp: number;
  /** Expert-parallel size: tp x dp (experts split by expert) or 1 (experts split by TP over the worker's GPUs). */
  ep: number;
}

/** A worker group's parallelism as an experiment gives it: dp and ep unset are 1. */
export function groupParallelism(g: { tp: number; dp?: number | undefined; ep?: number | undefined }): Parallelism {
  return { tp: g.tp, dp: g.dp ?? 1, ep: g.ep ?? 1 };
}

/**
 * The all-to-all kernels a role's EP runs unless its group names them: DeepEP's low-latency kernels on decode workers,
 * the high-throughput ones on prefill and aggregated workers (vLLM docs/serving/expert_parallel_deployment.md: prefill
 * instances deepep_high_throughput, decode instances deepep_low_latency).
 */
export function defaultAllToAllMode(role: 'prefill' | 'decode' | 'aggregated'): AllToAllMode {
  return role === 'decode' ? 'low-latency' : 'high-throughput';
}

/** GPUs of one worker. */
export function gpusOf(p: Parallelism): number {
  return p.tp * p.dp;
}

/** Whether a worker runs as one StepCost engine: no data-parallel ranks and no expert parallelism. */
export function isPlainTp(p: Parallelism): boolean {
  return p.dp === 1 && p.ep === 1;
}

/** Layers whose FFN is routed experts. */
export function moeLayers(llm: LlmSpec): number {
  return llm.moe ? llm.layers - llm.moe.firstDenseLayers : 0;
}

/** Parameters of one expert in one layer: gate, up and down, each hidden x moeIntermediateSize. */
export function expertParams(llm: LlmSpec): number {
  return llm.moe ? 3 * llm.hiddenSize * llm.moe.moeIntermediateSize : 0;
}

/** Parameters of all routed experts of all MoE layers (0 for a dense model). */
export function routedParams(llm: LlmSpec): number {
  return llm.moe ? llm.moe.routedExperts * moeLayers(llm) * expertParams(llm) : 0;
}

/** Routed-expert parameters one token passes through (its expertsPerToken experts in every MoE layer). */
export function routedActiveParams(llm: LlmSpec): number {
  return llm.moe ? llm.moe.expertsPerToken * moeLayers(llm) * expertParams(llm) : 0;
}

/**
 * Bytes of weights one GPU of the worker holds: everything but the routed experts on each DP rank's TP group
 * (params - routed) / tp, the routed experts over all tp x dp GPUs (by expert or by TP, the same share). A worker
 * without DP or EP keeps weightBytesPerRank's params / tp exactly.
 */
export function weightBytesPerGpu(llm: LlmSpec, p: Parallelism): number {
  if (isPlainTp(p)) return weightBytesPerRank(llm, p.tp);
  const b = dtypeBytes(llm.weightDtype);
  const routed = routedParams(llm);
  return ((llm.params - routed) * b) / p.tp + (routed * b) / gpusOf(p);
}

/**
 * The rules vLLM puts on a worker's parallelism, checked against the model; a UserError says what would fit.
 * - `ep` is the expert group: vLLM sizes it itself, tp x dp with --enable-expert-parallel, else the experts are split
 *   by TP over the same tp x dp GPUs (ep 1);
 * - a dense model has no experts: no EP, and its DP ranks would be independent engines (vLLM's DP for dense models),
 *   which nixlsim writes as workers.
 */
export function checkParallelism(llm: LlmSpec, p: Parallelism): void {
  for (const [k, v] of [['tp', p.tp], ['dp', p.dp], ['ep', p.ep]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new UserError(`${k} must be a whole number >= 1, got ${v}`);
  }
  const gpus = gpusOf(p);
  if (!llm.moe) {
    if (p.ep > 1) throw new UserError(`ep ${p.ep}: '${llm.id}' is a dense model, it has no experts to split (ep is for MoE models; leave it at 1)`);
    if (p.dp > 1) {
      throw new UserError(
        `dp ${p.dp}: '${llm.id}' is a dense model, whose data-parallel ranks are independent engines (no MoE layer joins them): write them as workers (workers x ${p.dp}) with dp 1`,
      );
    }
    return;
  }
  if (p.ep !== 1 && p.ep !== gpus) {
    throw new UserError(
      `ep ${p.ep}: vLLM's expert group is every GPU of the worker, tp x dp = ${p.tp} x ${p.dp} = ${gpus} with --enable-expert-parallel (ep ${gpus}), or 1 without it (the experts split by tensor parallelism over those ${gpus} GPUs)`,
    );
  }
}

/**
 * The chance that k distinct picks from n items all miss a given m of them: C(n - m, k) / C(n, k), as the product
 * over the picks (m may be fractional: an average share).
 */
export function missProbability(n: number, m: number, k: number): number {
  let p = 1;
  for (let i = 0; i < k; i++) {
    const left = n - m - i;
    if (left <= 0) return 0;
    p *= left / (n - i);
  }
  return p;
}

/**
 * The expected number of `domains` (EP ranks, or nodes) one token's experts fall in, the experts spread evenly over
 * the domains and, with group-limited routing, the groups too: a token picks groupsPerToken of expertGroups groups
 * (each then holding at least one of its experts, as expertsPerToken >= groupsPerToken), then its experts among those
 * groups' experts. Without groups, or with domains that do not nest with the groups, its experts are any
 * expertsPerToken of the routed ones.
 */
export function expectedDomainsPerToken(moe: MoeShape, domains: number): number {
  const e = moe.routedExperts;
  const k = moe.expertsPerToken;
  const groups = moe.expertGroups;
  const g = moe.groupsPerToken;
  if (domains <= 1) return 1;
  if (groups !== undefined && g !== undefined && k >= g) {
    // Each domain holds whole groups: it is reached when one of its groups is picked.
    if (groups % domains === 0) return domains * (1 - missProbability(groups, groups / domains, g));
    // Each group spans domains / groups domains: a domain is reached when its group is picked and an expert lands on it.
    if (domains % groups === 0) return domains * (g / groups) * (1 - missProbability((g * e) / groups, e / domains, k));
  }
  return domains * (1 - missProbability(e, e / domains, k));
}

/**
 * How much more routed work the busiest EP rank gets than the mean, from sampling alone: with `perRank` token-expert
 * assignments a rank on average, the largest of `ranks` such counts lies about sqrt(2 ln ranks x perRank) above the
 * mean (the expected maximum of n independent, roughly normal counts of variance ~ their mean). This is the imbalance
 * of a perfect expert placement (SGLang's "simulated perfect EPLB": random experts under group-limited routing); a
 * real routing's skew adds to it. At most `ranks` (one rank taking everything).
 */
export function samplingImbalance(perRank: number, ranks: number): number {
  if (ranks <= 1 || perRank <= 0) return 1;
  return Math.min(ranks, 1 + Math.sqrt((2 * Math.log(ranks)) / perRank));
}

/** A table's value at `ep`, linear in log2(ep) between its rows, the nearest row's outside them. */
export function atEp<T extends { ep: number }>(rows: readonly T[], ep: number, f: (r: T) => number): number {
  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  if (ep <= first.ep) return f(first);
  if (ep >= last.ep) return f(last);
  let i = 0;
  while (rows[i + 1]!.ep <= ep) i++;
  const a = rows[i]!;
  const b = rows[i + 1]!;
  if (a.ep === ep) return f(a);
  const t = (Math.log2(ep) - Math.log2(a.ep)) / (Math.log2(b.ep) - Math.log2(a.ep));
  return f(a) + t * (f(b) - f(a));
}

/** Where a worker's expert group sits: the node's GPUs and NVLink domain, the NIC bandwidth per GPU, the GPU's NVLink. */
export interface ExpertFabric {
  gpusPerNode: number;
  nvlinkDomainGpus: number;
  /** The node's NICs x line rate / its GPUs, bytes/s. */
  nicBandwidthPerGpu: number;
  /** The GPU's NVLink, bidirectional (datasheet), bytes/s. */
  nvlinkBandwidth: number;
}

export interface AllToAllTime {
  dispatchS: number;
  combineS: number;
  /** Where the bottleneck is: NVLink within one NVLink domain (scale-up), the NICs across nodes (scale-out). */
  domain: 'scale-up' | 'scale-out';
}

/**
 * One MoE layer's dispatch and combine on an expert group of `ep` GPUs (the whole worker), for `tokens` tokens over
 * all its ranks, with DeepEP's published figures (models/all-to-all/):
 *
 * - high-throughput (prefill): bandwidth-bound. Each GPU sends its tokens/ep tokens to every destination holding one of
 *   their experts, counted as the kernels' "bottleneck bandwidth" counts them: once per GPU reached within one NVLink
 *   domain (expectedDomainsPerToken over ep ranks, at the intranode figure, scaled by this GPU's NVLink against the
 *   measuring GPU's), once per node reached across nodes (over ceil(ep / gpusPerNode) nodes, at the internode figure
 *   for this EP size, scaled by the node's NIC bandwidth per GPU against the measuring NIC). Dispatch moves FP8
 *   activations when the weights are FP8 (hidden x fp8BytesPerElement), else BF16; combine BF16.
 * - low-latency (decode): one copy per token and chosen expert, no deduplication; the time is the published latency
 *   at this EP size, or the bytes over its bandwidth (scaled by the NIC) when they take longer. The latency was
 *   measured at tokensPerRank tokens a rank: fewer are taken as no faster (the kernels' fixed part is not published
 *   apart), so small batches are priced at an upper bound.
 *
 * `imbalance` scales the busiest rank's bytes (it receives the most: the lockstep waits for it).
 */
export function allToAllTime(
  a2a: AllToAllSpec,
  mode: AllToAllMode,
  llm: LlmSpec,
  ep: number,
  tokens: number,
  fabric: ExpertFabric,
  imbalance = 1,
): AllToAllTime {
  const moe = llm.moe;
  if (!moe) throw new UserError(`'${llm.id}' is a dense model: it has no experts to dispatch tokens to`);
  const perRank = (tokens / ep) * imbalance;
  const dispatchBytesPerToken = llm.hiddenSize * (llm.weightDtype === 'fp8' ? a2a.fp8BytesPerElement : 2);
  const combineBytesPerToken = llm.hiddenSize * 2;
  const nicScale = fabric.nicBandwidthPerGpu / a2a.measuredOn.nicBandwidth;
  const inDomain = ep <= Math.max(fabric.gpusPerNode, fabric.nvlinkDomainGpus);
  if (mode === 'low-latency') {
    const copies = perRank * moe.expertsPerToken;
    const rows = a2a.lowLatency.points;
    const dispatchS = Math.max(atEp(rows, ep, (r) => r.dispatchS), (copies * dispatchBytesPerToken) / (atEp(rows, ep, (r) => r.dispatchBandwidth) * nicScale));
    const combineS = Math.max(atEp(rows, ep, (r) => r.combineS), (copies * combineBytesPerToken) / (atEp(rows, ep, (r) => r.combineBandwidth) * nicScale));
    return { dispatchS, combineS, domain: inDomain ? 'scale-up' : 'scale-out' };
  }
  if (inDomain) {
    const reached = expectedDomainsPerToken(moe, ep);
    const scale = fabric.nvlinkBandwidth / a2a.measuredOn.nvlinkBandwidth;
    const ht = a2a.highThroughput.intranode;
    return {
      dispatchS: (perRank * reached * dispatchBytesPerToken) / (ht.dispatch * scale),
      combineS: (perRank * reached * combineBytesPerToken) / (ht.combine * scale),
      domain: 'scale-up',
    };
  }
  const nodes = Math.ceil(ep / fabric.gpusPerNode);
  const reached = expectedDomainsPerToken(moe, nodes);
  const rows = a2a.highThroughput.internode;
  return {
    dispatchS: (perRank * reached * dispatchBytesPerToken) / (atEp(rows, ep, (r) => r.dispatch) * nicScale),
    combineS: (perRank * reached * combineBytesPerToken) / (atEp(rows, ep, (r) => r.combine) * nicScale),
    domain: 'scale-out',
  };
}

/** What a DP/EP worker's step needs besides StepContext: its expert fabric and all-to-all kernels (EP only). */
export interface MoeContext extends StepContext {
  fabric?: ExpertFabric;
  allToAll?: { spec: AllToAllSpec; mode: AllToAllMode };
}

/** A step's parts for a DP/EP worker: StepTime's, with the MoE layers' communication apart. */
export interface MoeStepTime extends StepTime {
  /** The routed experts' all-to-all (EP) or all-gather + reduce-scatter (DP without EP), all MoE layers. */
  moeCommS: number;
  /** The busiest EP rank's routed work over the mean (samplingImbalance). */
  imbalance: number;
}

function causalPairs(tokens: number, cached: number): number {
  return (tokens * (tokens + 1)) / 2 - (cached * (cached + 1)) / 2;
}

/**
 * One engine step of a worker with DP attention and/or EP, over the work of all its ranks (nixlsim schedules a DP
 * worker as one engine whose budgets are its ranks' together). Each GPU's time is a roofline of
 *
 *   its DP rank's share: the non-routed matmuls (attention projections, dense FFNs, shared experts) and attention of
 *     the rank's sequences on its TP group, the rank's KV context, and the non-routed weights (read by every rank);
 *     a rank's share is the work over dp, or the largest single sequence's when that is more (one prompt is on one
 *     rank, and the lockstep waits for the busiest);
 *   its routed experts: with EP, (tokens x expertsPerToken / ep) x imbalance assignments, and the weights of its
 *     experts the step's tokens touch (each of its routedExperts / ep experts, touched unless all tokens miss it:
 *     1 - (1 - k / E)^tokens); without EP, 1 / (tp x dp) of every assignment and every touched expert;
 *
 * plus the TP all-reduces of the rank's tokens (after attention in every layer, after the FFN in the dense layers),
 * plus the MoE layers' communication: DeepEP's dispatch and combine (allToAllTime) with EP; without it, the all-gather
 * of every rank's tokens and the reduce-scatter of the outputs over the tp x dp GPUs, a ring all-reduce's traffic.
 * Host time and kernel launches as StepCost (launches overlap the GPU's work); a decode-only step replays a full CUDA
 * graph when each rank's decodes fit the captured size, except with the high-throughput kernels, which synchronise
 * with the CPU and so run piecewise (DeepEP README: normal dispatch is not compatible with CUDA graphs).
 */
export class MoeStepCost {
  private readonly decodeTotals: DecodeTotals = { tokens: 0, context: 0, queryContext: 0, longest: 0, most: 1 };
  private readonly dp: number;
  private readonly ep: number;
  private readonly gpus: number;
  private readonly twoNonRoutedParams: number;
  private readonly lmHeadFlops: number;
  private readonly prefillAttentionPerPair: number;
  private readonly decodeAttentionPerContext: number;
  private readonly kvBytesPerToken: number;
  private readonly nonRoutedBytesPerGpu: number;
  private readonly memoryBandwidth: number;
  private readonly matmulPeak: number;
  private readonly attentionPeak: number;
  private readonly rankComputeScale: number;
  private readonly gpuComputeScale: number;
  private readonly hostS: number;
  private readonly launchS: Record<GraphMode, number>;
  private readonly allReduceLatencyS: number;
  private readonly tpAllReduceBandwidth: number;
  private readonly groupAllReduceBandwidth: number;
  private readonly tpAllReducesPerStep: number;
  private readonly expertFlopsPerAssignment: number;
  private readonly expertBytes: number;
  private readonly moeLayerCount: number;

  constructor(
    private readonly llm: LlmSpec,
    private readonly gpu: GpuSpec,
    private readonly p: Parallelism,
    eff: Efficiency = defaultEfficiency(gpu),
    private readonly ctx: MoeContext = DEFAULT_STEP_CONTEXT,
  ) {
    checkParallelism(llm, p);
    if (!llm.moe) throw new UserError(`'${llm.id}' is a dense model: a worker with DP ranks or EP needs a MoE model`);
    if (p.ep > 1 && !ctx.allToAll) throw new UserError(`ep ${p.ep}: the node names no all-to-all kernels (allToAll in models/node/) to price the experts' dispatch and combine`);
    this.dp = p.dp;
    this.ep = p.ep;
    this.gpus = gpusOf(p);
    const width = llm.heads * (llm.attention === 'mla' && llm.mla ? llm.mla.kvLoraRank + llm.mla.ropeDim : llm.headDim);
    const b = dtypeBytes(llm.weightDtype);
    this.twoNonRoutedParams = 2 * (llm.activeParams - 2 * llm.vocabSize * llm.hiddenSize - routedActiveParams(llm));
    this.lmHeadFlops = 2 * llm.vocabSize * llm.hiddenSize;
    this.prefillAttentionPerPair = llm.layers * 2 * 2 * width;
    this.decodeAttentionPerContext = 2 * 2 * width * llm.layers;
    this.kvBytesPerToken = kvBytesPerTokenPerRank(llm, p.tp);
    this.nonRoutedBytesPerGpu = ((llm.params - routedParams(llm)) * b) / p.tp;
    this.memoryBandwidth = gpu.hbmBandwidth * eff.decodeMemory;
    this.matmulPeak = llm.weightDtype === 'fp8' && gpu.flops.fp8 !== null ? gpu.flops.fp8 : gpu.flops.bf16;
    this.attentionPeak = gpu.flops.bf16;
    this.rankComputeScale = p.tp * eff.prefillCompute;
    this.gpuComputeScale = eff.prefillCompute;
    this.hostS = hostTime(eff, ctx.connector);
    this.launchS = { full: launchTime(llm, eff, 'full'), piecewise: launchTime(llm, eff, 'piecewise'), eager: launchTime(llm, eff, 'eager') };
    this.allReduceLatencyS = eff.allReduceLatencyS;
    this.tpAllReduceBandwidth = allReduceBandwidth(gpu, p.tp, ctx.node);
    this.groupAllReduceBandwidth = allReduceBandwidth(gpu, this.gpus, ctx.node);
    this.moeLayerCount = moeLayers(llm);
    // After attention in every layer, after the FFN in the dense ones; a MoE layer's output comes back through the
    // combine (EP) or the reduce-scatter (no EP), the shared expert's partial sums with it.
    this.tpAllReducesPerStep = llm.layers + llm.moe.firstDenseLayers;
    this.expertFlopsPerAssignment = 2 * expertParams(llm) * this.moeLayerCount;
    this.expertBytes = expertParams(llm) * b * this.moeLayerCount;
  }

  /** Seconds the step takes. */
  seconds(work: StepWork): number {
    return this.time(work, null);
  }

  /** Seconds the step takes; with `out`, its parts too. */
  time(work: StepWork, out: MoeStepTime | null): number {
    const llm = this.llm;
    const moe = llm.moe!;
    // Compute seconds (at peak, before the efficiency and TP scale) and KV bytes: in all and of the largest sequence.
    let compute = 0;
    let kv = 0;
    let tokens = 0;
    let maxCompute = 0;
    let maxKv = 0;
    let maxTokens = 0;
    for (const p of work.prefill) {
      const all = p.cached + p.tokens;
      const c = (this.twoNonRoutedParams * p.tokens + this.lmHeadFlops) / this.matmulPeak + (this.prefillAttentionPerPair * causalPairs(all, p.cached)) / this.attentionPeak;
      const k = p.cached * this.kvBytesPerToken;
      compute += c;
      kv += k;
      tokens += p.tokens;
      if (c > maxCompute) maxCompute = c;
      if (k > maxKv) maxKv = k;
      if (p.tokens > maxTokens) maxTokens = p.tokens;
    }
    // Verifying drafts (decodeQueries): each query token runs the matmuls and attends to its sequence's context.
    const dec = sumDecode(work, this.decodeTotals);
    const decodeTokens = dec.tokens;
    if (work.decode.length > 0) {
      const { longest, most } = dec;
      compute += (this.twoNonRoutedParams * decodeTokens) / this.matmulPeak + (this.decodeAttentionPerContext * dec.queryContext) / this.attentionPeak;
      kv += dec.context * this.kvBytesPerToken;
      tokens += decodeTokens;
      const one = (this.twoNonRoutedParams * most) / this.matmulPeak + (this.decodeAttentionPerContext * longest * most) / this.attentionPeak;
      if (one > maxCompute) maxCompute = one;
      if (longest * this.kvBytesPerToken > maxKv) maxKv = longest * this.kvBytesPerToken;
      if (maxTokens < most) maxTokens = most;
    }
    const dp = this.dp;
    const rankCompute = Math.max(compute / dp, maxCompute) / this.rankComputeScale;
    const rankKv = Math.max(kv / dp, maxKv);
    const rankTokens = Math.max(tokens / dp, maxTokens);

    // The routed experts: every token of every rank goes through expertsPerToken of them in each MoE layer.
    const e = moe.routedExperts;
    const touched = e * (1 - Math.pow(1 - moe.expertsPerToken / e, tokens));
    const assignments = tokens * moe.expertsPerToken;
    let imbalance = 1;
    let expertCompute: number;
    let expertMemory: number;
    let moeCommS: number;
    if (this.ep > 1) {
      imbalance = samplingImbalance(assignments / this.ep, this.ep);
      expertCompute = (this.expertFlopsPerAssignment * (assignments / this.ep) * imbalance) / this.matmulPeak / this.gpuComputeScale;
      expertMemory = ((touched / this.ep) * this.expertBytes) / this.memoryBandwidth;
      const a2a = this.ctx.allToAll!;
      const fabric = this.ctx.fabric ?? { gpusPerNode: this.gpus, nvlinkDomainGpus: this.gpus, nicBandwidthPerGpu: a2a.spec.measuredOn.nicBandwidth, nvlinkBandwidth: this.gpu.nvlinkBandwidth };
      const t = allToAllTime(a2a.spec, a2a.mode, llm, this.ep, tokens, fabric, imbalance);
      moeCommS = this.moeLayerCount * (t.dispatchS + t.combineS);
    } else {
      expertCompute = (this.expertFlopsPerAssignment * assignments) / this.gpus / this.matmulPeak / this.gpuComputeScale;
      expertMemory = ((touched / this.gpus) * this.expertBytes) / this.memoryBandwidth;
      // All-gather the ranks' tokens, reduce-scatter the outputs: a ring all-reduce's bytes over every GPU.
      moeCommS = this.moeLayerCount * allReduceTime(this.gpu, this.gpus, tokens * llm.hiddenSize * 2, this.allReduceLatencyS, this.groupAllReduceBandwidth);
    }
    const computeS = rankCompute + expertCompute;
    const memoryS = (this.nonRoutedBytesPerGpu + rankKv) / this.memoryBandwidth + expertMemory;
    const allReduceS = this.tpAllReducesPerStep * allReduceTime(this.gpu, this.p.tp, rankTokens * llm.hiddenSize * 2, this.allReduceLatencyS, this.tpAllReduceBandwidth);
    const mode = this.graphMode(work.prefill.length, decodeTokens);
    const launchS = this.launchS[mode];
    const totalS = this.hostS + Math.max(Math.max(computeS, memoryS) + allReduceS + moeCommS, launchS);
    if (out) {
      out.totalS = totalS;
      out.computeS = computeS;
      out.memoryS = memoryS;
      out.allReduceS = allReduceS;
      out.overheadS = this.hostS;
      out.launchS = launchS;
      out.mode = mode;
      out.moeCommS = moeCommS;
      out.imbalance = imbalance;
    }
    return totalS;
  }

  /** The step's graph mode: full for decode-only steps within each rank's captured size, unless the kernels forbid it. */
  private graphMode(prefills: number, decodes: number): GraphMode {
    if (this.ctx.enforceEager) return 'eager';
    if (this.ctx.allToAll?.mode === 'high-throughput' && this.ep > 1) return 'piecewise';
    return prefills === 0 && decodes / this.dp <= this.ctx.maxCaptureSize ? 'full' : 'piecewise';
  }
}

/** stepTime for a DP/EP worker: MoeStepCost once. */
export function moeStepTime(llm: LlmSpec, gpu: GpuSpec, p: Parallelism, work: StepWork, eff: Efficiency = defaultEfficiency(gpu), ctx: MoeContext = DEFAULT_STEP_CONTEXT): MoeStepTime {
  const out: MoeStepTime = { totalS: 0, computeS: 0, memoryS: 0, allReduceS: 0, overheadS: 0, launchS: 0, mode: 'full', moeCommS: 0, imbalance: 1 };
  new MoeStepCost(llm, gpu, p, eff, ctx).time(work, out);
  return out;
}
