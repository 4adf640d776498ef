import type { GpuSpec, LlmSpec, NodeSpec, TransportSpec } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import { decodeStepTime, prefillStepTime, type Efficiency, type StepTime } from './compute.js';
import { readPlan } from './kv.js';
import { transferCost } from './transfer.js';

/**
 * What no deployment of this shape can beat: the physical bounds audit holds measurements against. Every efficiency
 * is 1 and every overhead 0: prefill at 100% of peak FLOP/s (or of HBM bandwidth for the weights, whichever is
 * slower), decode at 100% of HBM bandwidth, the KV transfer at the transport's line rate (its max per-rail bandwidth
 * times the rails, no latency, no per-READ or per-descriptor cost). The tensor-parallel all-reduces are left out too
 * (they could in principle overlap), so the bounds are loose by that much and never too tight. Pure functions.
 */
export const PEAK: Efficiency = {
  prefillCompute: 1,
  decodeMemory: 1,
  stepOverheadS: 0,
  eagerLayerOverheadS: 0,
  piecewiseLayerOverheadS: 0,
  allReduceLatencyS: 0,
  connectorStepOverheadS: 0,
};

export interface BoundQuery {
  llm: LlmSpec;
  gpu: GpuSpec;
  mode: 'aggregated' | 'disaggregated';
  /** TP and count of the workers that prefill and of those that decode (aggregated: the same workers). */
  prefillTp: number;
  decodeTp: number;
  prefillWorkers: number;
  decodeWorkers: number;
  /** max_num_seqs: the most sequences one engine decodes at once. */
  maxNumSeqs: number;
  /** Disaggregated: the KV path. */
  transfer?: { transport: TransportSpec; prefillNode: NodeSpec; decodeNode: NodeSpec; blockSize: number; hostLinkBandwidth: number };
  isl: number;
  osl: number;
  concurrency: number;
}

export interface Bounds {
  /** One prompt's prefill alone, seconds. */
  prefillS: number;
  /** Its KV at line rate, seconds (0 aggregated). */
  kvTransferS: number;
  /** TTFT: prefill plus (disaggregated) the KV transfer, seconds. */
  ttftS: number;
  /** Mean inter-token latency: a decode step of one sequence at the mean context, seconds. */
  itlS: number;
  /** End-to-end: TTFT + (osl - 1) x ITL, seconds. */
  latencyS: number;
  /** The most output tokens/s: the least of the decode, prefill and closed-loop (Little's law) limits. */
  throughput: number;
}

/** A step at the roofline alone: the slower of compute and memory traffic, nothing added. */
function roofline(s: StepTime): number {
  return Math.max(s.computeS, s.memoryS);
}

export function physicalBounds(q: BoundQuery): Bounds {
  for (const [name, v] of Object.entries({ isl: q.isl, osl: q.osl, concurrency: q.concurrency })) {
    if (!Number.isInteger(v) || v < 1) throw new UserError(`${name} must be a whole number >= 1, got ${v}`);
  }
  const prefillStep = prefillStepTime(q.llm, q.gpu, q.prefillTp, [{ tokens: q.isl }], PEAK);
  const prefillS = roofline(prefillStep);
  let kvTransferS = 0;
  if (q.mode === 'disaggregated') {
    const t = q.transfer;
    if (!t) throw new UserError('a disaggregated bound needs the transfer path (transport and nodes)');
    // The wire time alone: bytes over the bottleneck bandwidth, without the latency and posting of the setup.
    const plan = readPlan(q.llm, q.isl, q.prefillTp, q.decodeTp, t.blockSize);
    kvTransferS = transferCost(plan, t.transport, {
      prefillTp: q.prefillTp,
      decodeTp: q.decodeTp,
      prefillNode: t.prefillNode,
      decodeNode: t.decodeNode,
      bandwidth: 'max',
      hostLinkBandwidth: t.hostLinkBandwidth,
    }).wireS;
  }
  const ttftS = prefillS + kvTransferS;
  // Step time is linear in the context, so the mean over the output's positions is the step at the mean context.
  const itlS = roofline(decodeStepTime(q.llm, q.gpu, q.decodeTp, [q.isl + q.osl / 2], PEAK));
  const latencyS = ttftS + (q.osl - 1) * itlS;

  // Decode: b sequences per engine give b tokens a step, and b / step(b) grows with b, so the most is every engine
  // at its share of the concurrency (rounded up: still an upper bound), at the shortest context, the prompt's.
  const b = Math.min(Math.ceil(q.concurrency / q.decodeWorkers), q.maxNumSeqs);
  const decodeCap = (q.decodeWorkers * b) / roofline(decodeStepTime(q.llm, q.gpu, q.decodeTp, new Array<number>(b).fill(q.isl), PEAK));
  // Prefill: every request is one prefill. Prompts batched into one step share the weights read but not the FLOPs,
  // so a worker finishes at most 1 / (one prompt's compute at peak) prompts a second; the roofline of a prompt alone
  // (prefillS) would be too tight for short prompts, whose step is bound by reading the weights.
  const prefillCap = (q.prefillWorkers * q.osl) / prefillStep.computeS;
  // Closed loop: each of the `concurrency` clients finishes at most one request per latency bound.
  const littleCap = (q.concurrency * q.osl) / latencyS;
  return { prefillS, kvTransferS, ttftS, itlS, latencyS, throughput: Math.min(decodeCap, prefillCap, littleCap) };
}
