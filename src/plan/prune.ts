/**
 * Which enumerated configurations cannot run, and why, before anything is simulated:
 * - memory: a worker's weights leave no room for KV, or its KV pool cannot hold the workload's longest request (vLLM
 *   refuses to start when max_model_len does not fit; a request larger than the pool would never be scheduled);
 * - connector: the vLLM build (connector profile) rejects the prefill/decode TP pair, or crashes on it;
 * - placement: the transport cannot move KV between prefill and decode workers placed where they have to be.
 *
 * Placement (disaggregated only). Dynamo runs prefill and decode workers as separate pods, so KV never moves within a
 * pod: NVLink is out. With --placement auto the planner puts them on one node when the whole configuration fits on
 * one node and the transport works there, and otherwise on different nodes (pod anti-affinity) when the transport
 * works across nodes. So EFA, which fails between GPUs of one node (seed 002: the fi_read EAGAIN loop), always gets
 * cross-node placement, as seed 002 deployed it; InfiniBand gets same-node placement for budgets of one node. The GPU
 * budget counts GPUs, not nodes: a cross-node configuration may use parts of several nodes. A pinned --placement is
 * taken as given, and configurations it cannot serve are pruned.
 */
import type { Catalog, ConnectorProfile, GpuSpec, LlmSpec, NodeSpec, Placement, TransportSpec } from '../spec/catalog.js';
import { parallelismProblem } from '../experiment/check.js';
import { UserError } from '../errors.js';
import type { EngineArgs } from '../spec/experiment.js';
import { handshakeVerdict } from '../nixl/compat.js';
import { checkNvlinkDomain, checkPlacement, defaultEfficiency, groupParallelism, isPlainTp, kvBytesPerTokenPerRank, weightBytesPerGpu } from '../physics/index.js';
import { kvPoolBlocks } from '../serving/engine.js';
import { candidateGpus, shapeText, type Candidate, type WorkerShape } from './enumerate.js';

export type PlacementChoice = 'auto' | Placement;

export interface PruneContext {
  llm: LlmSpec;
  gpu: GpuSpec;
  node: NodeSpec;
  transport: TransportSpec;
  profile: ConnectorProfile;
  engine: EngineArgs;
  /** The workload's longest request, tokens (prompt and output). */
  longest: { isl: number; osl: number };
  placement: PlacementChoice;
  /** The catalog, for the loader's rules on DP ranks and expert groups (parallelismProblem); needed by DP/EP shapes. */
  catalog?: Catalog;
  /** Prefill or decode workers on hardware of their own (`plan --prefill-gpu / --decode-gpu`); absent: gpu and node. */
  roles?: Partial<Record<'prefill' | 'decode', { gpu: GpuSpec; node: NodeSpec }>>;
}

/** The GPU and node a role's workers run on. */
export function roleHardware(ctx: Pick<PruneContext, 'gpu' | 'node' | 'roles'>, role: 'aggregated' | 'prefill' | 'decode'): { gpu: GpuSpec; node: NodeSpec } {
  return (role !== 'aggregated' ? ctx.roles?.[role] : undefined) ?? { gpu: ctx.gpu, node: ctx.node };
}

export type PruneRule = 'memory' | 'connector' | 'placement' | 'parallelism';

export type PruneVerdict = { ok: true; placement?: Placement } | { ok: false; rule: PruneRule; reason: string };

const gb = (bytes: number): string => `${(bytes / 1e9).toFixed(1)} GB`;
const tokens = (n: number): string => n.toLocaleString('en-US');

/** Why a worker of this shape cannot hold its share of the workload, or undefined when it can. */
export function memoryProblem(ctx: PruneContext, role: 'aggregated' | 'prefill' | 'decode', g: WorkerShape): string | undefined {
  const { llm, engine } = ctx;
  const { gpu } = roleHardware(ctx, role);
  const p = groupParallelism(g);
  const plain = isPlainTp(p);
  let blocks: number;
  try {
    // With DP ranks the pool is each rank's times dp, and a request lives on one rank: its room is one rank's pool.
    blocks = kvPoolBlocks({ id: role, llm, gpu, tp: g.tp, args: engine, eff: defaultEfficiency(gpu), ...(plain ? {} : { parallel: { dp: p.dp, ep: p.ep } }) }) / p.dp;
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    return `weights do not fit: ${err.message}`;
  }
  // A prefill worker holds the prompt's KV until decode reads it; decode and aggregated workers the prompt and the output.
  const need = role === 'prefill' ? ctx.longest.isl : ctx.longest.isl + ctx.longest.osl;
  const needBlocks = Math.ceil(need / engine.blockSize);
  if (needBlocks <= blocks) return undefined;
  const room = blocks * engine.blockSize;
  const what = role === 'prefill' ? `ISL ${tokens(ctx.longest.isl)}` : `ISL ${tokens(ctx.longest.isl)} + OSL ${tokens(ctx.longest.osl)}`;
  return (
    `KV does not fit: a ${shapeText(g)} ${role} worker keeps ${gb(blocks * engine.blockSize * kvBytesPerTokenPerRank(llm, g.tp))} of KV per GPU${plain ? '' : ' of each DP rank'} ` +
    `(${gb(gpu.hbmBytes * engine.gpuMemoryUtilization)} usable, ${gb(weightBytesPerGpu(llm, p))} of weights, ${gb(engine.activationReserveBytes)} reserved), ` +
    `room for ${tokens(room)} tokens, fewer than the longest request's ${tokens(need)} (${what})`
  );
}

/** Whether the connector build accepts the TP pair (with equal block sizes, as the planner deploys them). */
export function connectorProblem(ctx: PruneContext, prefill: WorkerShape, decode: WorkerShape): string | undefined {
  const v = handshakeVerdict(ctx.profile, {
    prefillTp: prefill.tp,
    decodeTp: decode.tp,
    prefillBlockSize: ctx.engine.blockSize,
    decodeBlockSize: ctx.engine.blockSize,
    llm: ctx.llm,
  });
  if (v.outcome === 'ok') return undefined;
  const pair = `prefill TP${prefill.tp} -> decode TP${decode.tp}`;
  const how = v.outcome === 'crash' ? `crashes on ${pair} (${v.stage === 'first-transfer' ? 'at the first KV transfer' : 'in the handshake'})` : `rejects ${pair}`;
  return `connector '${ctx.profile.id}' ${how}: ${v.message}`;
}

/**
 * Whether the transport moves KV between workers placed `p`, or why not: physics' checkPlacement (the catalog's rules)
 * and, for multi-node NVLink, whether prefill and decode (`gpus` in all) fit in one NVLink domain.
 */
function placementProblem(t: TransportSpec, p: Placement, ctx: PruneContext, gpus: number): string | undefined {
  try {
    checkNvlinkDomain(t, roleHardware(ctx, 'prefill').node, p, gpus, roleHardware(ctx, 'decode').node);
    const rule = checkPlacement(t, p);
    if (rule.outcome === 'works') return undefined;
    return `transport '${t.id}' sets up but fails between workers placed ${p}${rule.reason ? `: ${rule.reason}` : ''}`;
  } catch (err) {
    if (err instanceof UserError) return err.message; // unavailable: "transport 'nvlink' is not available between ..."
    throw err;
  }
}

/** Where prefill and decode workers go (see the module comment), or why nowhere works. */
export function choosePlacement(ctx: PruneContext, gpus: number): { placement: Placement } | { reason: string } {
  const { transport: t, node } = ctx;
  // Prefill and decode on nodes of different kinds are on different machines.
  const twoKinds = roleHardware(ctx, 'prefill').node.id !== roleHardware(ctx, 'decode').node.id;
  const oneNode = gpus <= node.gpusPerNode && !twoKinds;
  if (ctx.placement !== 'auto') {
    const p = ctx.placement;
    if (p !== 'cross-node' && twoKinds) return { reason: `placement ${p} needs prefill and decode on one machine, and they run on different node types` };
    if (p !== 'cross-node' && !oneNode) return { reason: `placement ${p} needs all ${gpus} GPUs on one node, and '${node.id}' has ${node.gpusPerNode}` };
    const problem = placementProblem(t, p, ctx, gpus);
    return problem === undefined ? { placement: p } : { reason: problem };
  }
  const order: Placement[] = oneNode ? ['same-node', 'cross-node'] : ['cross-node'];
  const reasons: string[] = [];
  for (const p of order) {
    const problem = placementProblem(t, p, ctx, gpus);
    if (problem === undefined) return { placement: p };
    reasons.push(problem);
  }
  return { reason: `${reasons.join('; ')} (prefill and decode are separate pods, so never intra-pod)` };
}

/**
 * Why a DP/EP worker breaks the loader's rules on DP ranks and expert groups (src/experiment/check.ts,
 * parallelismProblem: what vLLM allows for the model, a connector build that gives DP ranks one NIXL engine in a
 * disaggregated deployment, EP on a node without all-to-all kernels), or undefined. Plain TP workers are not asked.
 */
export function parallelismProblemOf(ctx: PruneContext, role: 'aggregated' | 'prefill' | 'decode', g: WorkerShape, disaggregated: boolean): string | undefined {
  const p = groupParallelism(g);
  if (isPlainTp(p)) return undefined;
  if (!ctx.catalog) throw new UserError(`a ${shapeText(g)} worker needs the catalog to be checked (PruneContext.catalog)`);
  const problem = parallelismProblem({ catalog: ctx.catalog, llm: ctx.llm, parallel: p, node: roleHardware(ctx, role).node, profile: ctx.profile, disaggregated, epGiven: g.ep !== undefined });
  return problem && `${role} ${shapeText(g)}: ${problem.message}`;
}

/** The first rule a configuration breaks (parallelism, memory, then connector, then placement), or where to place it. */
export function pruneCandidate(c: Candidate, ctx: PruneContext): PruneVerdict {
  const groups: ['aggregated' | 'prefill' | 'decode', WorkerShape][] =
    c.mode === 'aggregated' ? [['aggregated', c.aggregated]] : [['prefill', c.prefill], ['decode', c.decode]];
  for (const [role, g] of groups) {
    const problem = parallelismProblemOf(ctx, role, g, c.mode === 'disaggregated');
    if (problem) return { ok: false, rule: 'parallelism', reason: problem };
  }
  for (const [role, g] of groups) {
    const problem = memoryProblem(ctx, role, g);
    if (problem) return { ok: false, rule: 'memory', reason: problem };
  }
  if (c.mode === 'aggregated') return { ok: true };
  const connector = connectorProblem(ctx, c.prefill, c.decode);
  if (connector) return { ok: false, rule: 'connector', reason: connector };
  const placed = choosePlacement(ctx, candidateGpus(c));
  if ('reason' in placed) return { ok: false, rule: 'placement', reason: placed.reason };
  return { ok: true, placement: placed.placement };
}
