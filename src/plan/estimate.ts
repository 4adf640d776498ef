/**
 * Back-of-envelope capacity of a configuration from the physics, with the workload's mean lengths: where each rate
 * search starts (half the estimate, planner.ts), and the ceilings the report compares the simulated answer with. Only the start
 * depends on it; the maximum rates come from simulation.
 *
 * Ceilings, requests per second:
 * - prefill: workers / the time to prefill one mean prompt (one prompt per step);
 * - decode: workers x B / (OSL x decode step time), B sequences in a step (max_num_seqs, or fewer when the KV pool
 *   holds fewer mid-length requests);
 * - KV transfer (disaggregated): the narrower side's bandwidth, prefill workers x their rails or decode workers x
 *   theirs (railsFor: p5.48xlarge gives a GPU 4 EFA rails), over one request's KV bytes.
 * An aggregated worker prefills and decodes on one GPU group, so its time per request is the sum of the two.
 *
 * A MoE worker with DP ranks and an expert group (dp > 1 or ep > 1) is priced with MoeStepCost (src/physics/moe.ts),
 * approximately: its prefill time per request is one step of dp mean prompts (one a rank) over dp; its decode step
 * holds dp x max_num_seqs sequences, or as many as the dp ranks' KV pools hold; the all-to-all kernels are the node's
 * (high-throughput for prefill and aggregated, low-latency for decode, as the loader defaults them). Its KV moves from
 * every DP rank at once: a rank is a NIXL engine of its TP, so the worker's bandwidth is dp x a rank's.
 */
import type { AllToAllSpec, GpuSpec, LlmSpec, NodeSpec, TransportSpec } from '../spec/catalog.js';
import type { EngineArgs } from '../spec/experiment.js';
import {
  decodeStepTime,
  DEFAULT_STEP_CONTEXT,
  defaultAllToAllMode,
  defaultEfficiency,
  groupParallelism,
  isPlainTp,
  maxCaptureSize,
  moeStepTime,
  prefillStepTime,
  railCap,
  railsFor,
  readPlan,
  workerBandwidth,
  type MoeContext,
} from '../physics/index.js';
import { kvPoolBlocks } from '../serving/engine.js';
import type { Candidate, Shape } from './enumerate.js';
import { roleHardware } from './prune.js';

export interface EstimateContext {
  llm: LlmSpec;
  gpu: GpuSpec;
  node: NodeSpec;
  transport: TransportSpec;
  engine: EngineArgs;
  bandwidth: 'min' | 'typical' | 'max';
  islMean: number;
  oslMean: number;
  /** The all-to-all kernels a node names (its allToAll record), for EP workers; absent: none known. */
  allToAll?: (node: NodeSpec) => AllToAllSpec | undefined;
  /** Prefill or decode on hardware of their own (absent: gpu and node). */
  roles?: Partial<Record<'prefill' | 'decode', { gpu: GpuSpec; node: NodeSpec }>>;
}

/** The context with a role's GPU and node in place of the deployment's (prune.ts's roleHardware). */
function onRole(ctx: EstimateContext, role: 'prefill' | 'decode'): EstimateContext {
  return { ...ctx, ...roleHardware(ctx, role) };
}
export interface Ceilings {
  prefill: number;
  decode: number;
  /** Disaggregated only. */
  kvTransfer?: number;
  /** What they rest on: seconds to prefill one mean prompt on one worker (the prefill group's, or the aggregated);
   * disaggregated, one request's KV bytes and the KV bandwidth of one prefill and one decode worker, bytes/s. */
  basis: { prefillS: number; kvBytes?: number; prefillWorkerBps?: number; decodeWorkerBps?: number };
}

/** Seconds of one worker's time a request takes: its prefill, and its share of the decode steps. */
function perRequest(ctx: EstimateContext, shape: Shape, role: 'aggregated' | 'prefill' | 'decode'): { prefillS: number; decodeS: number } {
  const p = groupParallelism(shape);
  if (!isPlainTp(p)) return perRequestMoe(ctx, shape, role);
  const tp = shape.tp;
  const { llm, gpu, engine } = ctx;
  const isl = Math.max(1, Math.round(ctx.islMean));
  const osl = Math.max(1, Math.round(ctx.oslMean));
  const prefillS = prefillStepTime(llm, gpu, tp, [{ tokens: isl }]).totalS;
  const poolTokens = kvPoolBlocks({ id: 'estimate', llm, gpu, tp, args: engine, eff: defaultEfficiency(gpu) }) * engine.blockSize;
  const batch = Math.max(1, Math.min(engine.maxNumSeqs, Math.floor(poolTokens / (isl + osl))));
  const stepS = decodeStepTime(llm, gpu, tp, new Array<number>(batch).fill(isl + osl / 2)).totalS;
  return { prefillS, decodeS: (osl * stepS) / batch };
}

/** perRequest for a worker with DP ranks or EP (see the module comment). */
function perRequestMoe(ctx: EstimateContext, shape: Shape, role: 'aggregated' | 'prefill' | 'decode'): { prefillS: number; decodeS: number } {
  const { llm, gpu, engine, node } = ctx;
  const p = groupParallelism(shape);
  const isl = Math.max(1, Math.round(ctx.islMean));
  const osl = Math.max(1, Math.round(ctx.oslMean));
  const eff = defaultEfficiency(gpu);
  const spec = p.ep > 1 ? ctx.allToAll?.(node) : undefined;
  const nodeCtx = { gpusPerNode: node.gpusPerNode, nicBandwidthPerGpu: (node.nics.count * node.nics.bandwidth) / node.gpusPerNode, nvlinkDomainGpus: node.nvlinkDomainGpus };
  const mctx: MoeContext = {
    ...DEFAULT_STEP_CONTEXT,
    maxCaptureSize: maxCaptureSize(engine.maxNumSeqs, engine.maxNumBatchedTokens),
    node: nodeCtx,
    fabric: { ...nodeCtx, nvlinkBandwidth: gpu.nvlinkBandwidth },
    ...(spec ? { allToAll: { spec, mode: defaultAllToAllMode(role) } } : {}),
  };
  const prompts = new Array(p.dp).fill(null).map(() => ({ tokens: isl, cached: 0 }));
  const prefillS = moeStepTime(llm, gpu, p, { prefill: prompts, decode: [] }, eff, mctx).totalS / p.dp;
  const poolTokens = kvPoolBlocks({ id: 'estimate', llm, gpu, tp: p.tp, args: engine, eff, parallel: { dp: p.dp, ep: p.ep } }) * engine.blockSize;
  const batch = Math.max(1, Math.min(engine.maxNumSeqs * p.dp, Math.floor(poolTokens / (isl + osl))));
  const stepS = moeStepTime(llm, gpu, p, { prefill: [], decode: new Array<number>(batch).fill(isl + osl / 2) }, eff, mctx).totalS;
  return { prefillS, decodeS: (osl * stepS) / batch };
}

/** Bytes per second one worker moves KV at (its rails; through the host link for staged transports); dp ranks: dp x one's. */
function sideBandwidth(ctx: EstimateContext, shape: Shape): number {
  const bw = workerBandwidth(ctx.transport, railsFor(ctx.transport, ctx.node, shape.tp), ctx.bandwidth, railCap(ctx.transport, ctx.node));
  return (ctx.transport.gpuDirect ? bw : Math.min(bw, ctx.gpu.hostLink.copyBandwidth)) * (shape.dp ?? 1);
}

export function ceilings(c: Candidate, ctx: EstimateContext): Ceilings {
  if (c.mode === 'aggregated') {
    const t = perRequest(ctx, c.aggregated, 'aggregated');
    return { prefill: c.aggregated.workers / t.prefillS, decode: c.aggregated.workers / t.decodeS, basis: { prefillS: t.prefillS } };
  }
  const p = perRequest(onRole(ctx, 'prefill'), c.prefill, 'prefill');
  const d = perRequest(onRole(ctx, 'decode'), c.decode, 'decode');
  const bytes = readPlan(ctx.llm, Math.max(1, Math.round(ctx.islMean)), c.prefill.tp, c.decode.tp, ctx.engine.blockSize, ctx.engine.kvLayout).bytesTotal;
  const [pBps, dBps] = [sideBandwidth(onRole(ctx, 'prefill'), c.prefill), sideBandwidth(onRole(ctx, 'decode'), c.decode)];
  const wire = Math.min(c.prefill.workers * pBps, c.decode.workers * dBps);
  return {
    prefill: c.prefill.workers / p.prefillS,
    decode: c.decode.workers / d.decodeS,
    kvTransfer: wire / bytes,
    basis: { prefillS: p.prefillS, kvBytes: bytes, prefillWorkerBps: pBps, decodeWorkerBps: dBps },
  };
}

/** The configuration's capacity from its ceilings (an estimate, not a bound), requests per second. */
export function capacityFrom(mode: Candidate['mode'], k: Ceilings): number {
  // Aggregated: both phases share each worker's time, so their times per request add up.
  if (mode === 'aggregated') return 1 / (1 / k.prefill + 1 / k.decode);
  return Math.min(k.prefill, k.decode, k.kvTransfer ?? Infinity);
}
