/**
 * The capacity planner: for a model, a node type, a transport, a GPU budget, a workload and SLOs, which deployment
 * serves the most traffic per GPU within the SLOs, and is disaggregation worth it?
 *
 * 1. Enumerate the configurations the budget allows (enumerate.ts).
 * 2. Prune those that cannot run, each with its reason (prune.ts).
 * 3. Search each survivor's maximum rate meeting the SLO (search.ts), all searches advancing together in rounds:
 *    each round simulates the next probe of every unfinished search on the worker pool, after looking each probe
 *    up in the store of finished probes (probe.ts).
 * 4. Rank, find the Pareto front and the verdict (rank.ts), and write plan.json, report.md, the Pareto chart and
 *    recommended.yaml (output.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { defaultConnector, getAllToAll, getConnector, getGpu, getLlm, getNode, getTransport, nodeHasGpu, nodeOffers } from '../catalog/index.js';
import { defaultCatalog } from '../catalog/load.js';
import { defaultReportDir } from '../spec/output.js';
import type { Catalog, ConnectorProfile, GpuSpec, LlmSpec, NodeSpec, Placement, TransportSpec } from '../spec/catalog.js';
import { InvariantError, UserError } from '../errors.js';
import { loadExperiment } from '../experiment/load.js';
import { autoWorkers, SimulationPool } from '../run/pool.js';
import { simulatePoints } from '../run/simulate.js';
import type { EngineArgs, Experiment, Point, PointResult } from '../spec/experiment.js';
import { kvPoolBlocks } from '../serving/engine.js';
import { defaultEfficiency, estimateTransfer } from '../physics/index.js';
import { candidateId, candidateLabel, dpEpShapes, enumerate, shapeGpus, shapeText, tpSizes, type Candidate, type RoleSizes, type Shape, type TpChoice, type WorkerShape } from './enumerate.js';
import { capacityFrom, ceilings, type Ceilings, type EstimateContext } from './estimate.js';
import { recommendedLaunch } from './launch.js';
import { MAX_PROBE_REQUESTS, probeKey, probePoint, PROBES_DIR, ProbeStore, type ProbeSizing } from './probe.js';
import { pruneCandidate, type PlacementChoice, type PruneContext } from './prune.js';
import { entryOf, rank, verdictOf, type SearchedConfig } from './rank.js';
import { RateSearch } from './search.js';
import { checkSlo, parseSlo, type SloTerm } from './slo.js';
import type { DeploymentSection, PlanJson, PrunedEntry } from './types.js';
import { resolveWorkload, type PlanWorkload } from './workload.js';

/** Budgets above this enumerate hundreds of configurations; plan a part of the fleet instead. */
export const MAX_GPUS = 64;
export const DEFAULT_REQUESTS = 200;
export const DEFAULT_WARMUP = 20;
export const DEFAULT_PRECISION = 0.05;

export interface PlanOptions {
  model: string;
  /** Checked against the node's GPU; default the node's. */
  gpu?: string;
  node: string;
  transport: string;
  gpus: number;
  /** An experiment file or a trace (.csv Azure, .jsonl Mooncake). */
  workload: string;
  /** `ttft_p95_ms<=2000,itl_p95_ms<=50`, or parsed terms. */
  slo: string | SloTerm[];
  connector?: string;
  placement?: PlacementChoice;
  /** Fewest measured requests per probe. */
  requests?: number;
  /** Seconds of arrivals per probe; default: the loosest TTFT or e2e bound / precision (probe.ts, ProbeSizing). */
  windowS?: number;
  warmup?: number;
  /** Relative width at which a rate search stops. */
  precision?: number;
  seed?: number;
  /** --set on the workload experiment file. */
  set?: string[];
  /** Output directory; default ./reports/plan-<model>-<node>-<transport>-<gpus>gpu/ (defaultOutDir). */
  out?: string;
  /** Worker threads for the default simulator (1: in this thread). */
  workers?: number;
  /** Simulate every probe again instead of reusing the stored ones. */
  fresh?: boolean;
  /**
   * Size for this load (size.ts, planForLoad): requests per second, or 'workload' for the workload file's own rate.
   * Absent: the budget's maximum rate (plan).
   */
  rate?: number | 'workload';
  /**
   * USD per GPU-hour: one price for every GPU, or a price by GPU id (`{ 'h100-sxm': 3.5, 'h200-sxm': 4.2 }`) when
   * prefill and decode run on different GPUs. Each configuration's cost per hour and per million output tokens.
   */
  gpuCost?: number | Record<string, number>;
  /** Prefill or decode workers on another GPU than --node's (on a node that carries it and offers the transport). */
  prefillGpu?: string;
  decodeGpu?: string;
  catalog?: Catalog;
  /** Told after each round: round number, probes in it, and how many of them were simulated (not reused). */
  onRound?: (round: number, probes: number, simulated: number) => void;
}

/** Simulates a batch of points, result i for point i. The default runs them on the worker pool. */
export type SimulateBatch = (points: readonly Point[], catalog: Catalog) => Promise<PointResult[]>;

export interface PlanResult {
  plan: PlanJson;
  workload: PlanWorkload;
  slo: SloTerm[];
  sizing: ProbeSizing;
  /** The recommended configuration's probe at its maximum rate (what recommended.yaml reproduces), or null. */
  recommendedPoint: Point | null;
  /** launch.sh for the recommended configuration (launch.ts), or null. */
  launch: string | null;
  outDir: string;
  /** Probes made in all, simulated now, and found in the store. */
  probes: { total: number; simulated: number; reused: number };
}

/**
 * The real simulator: on `workers` threads, or in this thread for 1 (and for a batch of one probe). A failing probe
 * names its configuration. The threads start with the first batch of more than one probe and serve every later batch
 * (a search makes dozens of small ones, each of which would otherwise pay for starting cold threads); close() stops
 * them. Without `workers`, they start with the first batch whose probes are work enough to repay starting them
 * (autoWorkers), and a search of small probes runs in this thread. The planner passes every batch the same catalog,
 * the one the threads start with.
 */
export function poolSimulator(workers?: number): { simulate: SimulateBatch; close: () => Promise<void> } {
  let pool: SimulationPool | undefined;
  const simulate: SimulateBatch = async (points, catalog) => {
    const n = workers ?? autoWorkers(points);
    if (n > 1 && points.length > 1) pool ??= new SimulationPool({ workers: n, catalog });
    return simulatePoints(points, { catalog, workers: n, ...(pool ? { pool } : {}), describePoint: (i) => `probe ${points[i]!.id}` });
  };
  return { simulate, close: async () => pool?.close() };
}

/** Seconds of arrivals a probe needs for an overload of `precision` to add the loosest queueing bound (probe.ts). */
export function defaultWindowS(slo: readonly SloTerm[], precision: number): number {
  const bounds = slo.filter((t) => t.metric !== 'itl').map((t) => t.maxMs / 1000);
  return bounds.length ? Math.max(...bounds) / precision : 60;
}

function checkNumber(flag: string, v: number, ok: boolean, want: string): void {
  if (!ok) throw new UserError(`--${flag} must be ${want}, got '${v}'`);
}

export function defaultOutDir(o: Pick<PlanOptions, 'model' | 'node' | 'transport' | 'gpus'>): string {
  return defaultReportDir(`plan-${o.model}-${o.node}-${o.transport}-${o.gpus}gpu`);
}

/**
 * The engine arguments an experiment file set to other than the loader's defaults (`base`), as an experiment file
 * would write them; a batch size counts as set when it differs from vLLM's default on the file's own GPU (the probes
 * take the default of theirs). undefined when the file changed nothing.
 */
export function ownEngineArgs(file: PlanWorkload['engine'], base: EngineArgs): Partial<EngineArgs> | undefined {
  if (file === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(file.args)) {
    if (k === 'maxNumBatchedTokens' || k === 'maxNumSeqs') {
      if (v !== file.batchDefaults[k]) out[k] = v;
    } else if (!isDeepStrictEqual(v, (base as unknown as Record<string, unknown>)[k])) {
      out[k] = v;
    }
  }
  return Object.keys(out).length > 0 ? (out as Partial<EngineArgs>) : undefined;
}

/**
 * The experiment every probe starts from: the loader's defaults for the deployment (vLLM's engine defaults, router,
 * bandwidth, failure policy), the flags' model, node, connector and transport, and the probe workload. Going through
 * the loader (a temporary file, as `breakeven` does) gives exactly what `nixlsim run` gives recommended.yaml.
 */
function templateExperiment(
  o: { model: string; gpu: string; node: string; connector: string; transport: string } & Pick<DeploymentSection, 'router' | 'routerConfig' | 'engine'>,
  tp: number,
  w: PlanWorkload,
  catalog: Catalog,
): Experiment {
  // Placeholders: every probe sets its own rate (or speed-up) and request count.
  const section = w.trace
    ? { ...w.section, requests: w.trace.offsets.length, trace: { ...(w.section['trace'] as object), speedup: 1 } }
    : { ...w.section, rate: 1, requests: w.minRequests };
  const data = {
    name: 'plan',
    seed: w.seed,
    // One worker of a TP the model fits at (the loader checks that it does); every probe sets its own groups.
    deployment: {
      mode: 'aggregated',
      model: o.model,
      gpu: o.gpu,
      node: o.node,
      connector: o.connector,
      transport: o.transport,
      aggregated: { workers: 1, tp },
      ...(o.router !== undefined ? { router: o.router } : {}),
      ...(o.routerConfig !== undefined ? { routerConfig: o.routerConfig } : {}),
      ...(o.engine !== undefined ? { engine: o.engine } : {}),
    },
    workload: section,
  };
  const dir = mkdtempSync(join(tmpdir(), 'nixlsim-plan-'));
  try {
    const file = join(dir, 'plan.json');
    writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
    try {
      return loadExperiment(file, { catalog }).experiment;
    } catch (err) {
      if (err instanceof UserError && /deployment\.aggregated\.tp: .* does not fit/.test(err.message)) {
        throw new UserError(`--model ${o.model} does not fit on '${o.node}' even at TP${tp}, the widest a worker can have there: ${err.message.split(': ').slice(2).join(': ')}`);
      }
      if (err instanceof UserError) throw new UserError(`the planner's probe experiment is invalid: ${err.message.split(file).join('plan')}`);
      throw err;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function deploymentOf(c: Candidate, placement: Placement | undefined, base: Omit<DeploymentSection, 'mode'>, extras: GroupExtras = {}): DeploymentSection {
  if (c.mode === 'aggregated') return { mode: 'aggregated', ...base, aggregated: { ...c.aggregated } };
  const role = (g: WorkerShape, x: GroupExtras['prefill']) => (x ? { ...g, node: x.node, gpu: x.gpu } : { ...g });
  // A plan sizes the fleet for its steady state: decode workers already registered with the prefill workers (the
  // first contact's descriptor preparation is a start-up cost, not a per-request one).
  return { mode: 'disaggregated', ...base, prefill: role(c.prefill, extras.prefill), decode: role(c.decode, extras.decode), ...(placement ? { placement } : {}), prewarmed: true };
}

/** What the prefill and decode groups of a probe carry when they run on hardware of their own. */
export type GroupExtras = Partial<Record<Role, RoleSetup['group']>>;

function groupExtras(s: Pick<Setup, 'roles'>): GroupExtras {
  return Object.fromEntries(Object.entries(s.roles).map(([r, x]) => [r, x.group]));
}

interface Live extends Assessed {
  search: RateSearch;
  results: Map<number, PointResult>;
}

/** The flags checked and resolved against the catalog and the workload file; the probes' template experiment. */
export interface Setup {
  catalog: Catalog;
  llm: LlmSpec;
  node: NodeSpec;
  gpu: GpuSpec;
  transport: TransportSpec;
  profile: ConnectorProfile;
  ids: Omit<DeploymentSection, 'mode'>;
  slo: SloTerm[];
  placement: PlacementChoice;
  precision: number;
  sizing: ProbeSizing;
  workload: PlanWorkload;
  template: Experiment;
  /** The TP sizes configurations are built from: those a worker can have (tpSizes) whose weights fit. */
  tp: TpChoice;
  /** A MoE model's DP/EP shapes (dpEpShapes) whose weights fit, and those left out; empty for a dense model. */
  dpEp: DpEpChoice;
  /** --gpu-cost, USD per GPU-hour, by GPU id (a single price: every GPU the plan uses). */
  prices: Record<string, number> | undefined;
  /** Prefill or decode workers on hardware of their own (--prefill-gpu, --decode-gpu). */
  roles: Partial<Record<Role, RoleSetup>>;
  /** What those roles' groups carry in every probe (groupExtras of roles). */
  extras: GroupExtras;
}

type Role = 'prefill' | 'decode';

export interface RoleSetup {
  gpu: GpuSpec;
  node: NodeSpec;
  /** The TP sizes its workers can have on that GPU. */
  tp: TpChoice;
  /** The DP/EP shapes they can have there (MoE models). */
  dpEp: DpEpChoice;
  /** What its worker groups carry in a probe's experiment: node, GPU and vLLM's batch defaults on it. */
  group: { node: string; gpu: string; engine?: { maxNumBatchedTokens?: number; maxNumSeqs?: number } };
}

/**
 * The node a role's GPU runs on: --node when it carries that GPU, else the first catalog node (by id) that carries
 * it and offers the transport.
 */
function nodeForGpu(catalog: Catalog, flag: string, gpu: GpuSpec, node: NodeSpec, transport: TransportSpec): NodeSpec {
  if (nodeHasGpu(node, gpu)) return node;
  const ids = [...catalog.nodes.keys()].sort();
  const carrying = ids.map((id) => catalog.nodes.get(id)!).filter((n) => nodeHasGpu(n, gpu));
  const found = carrying.find((n) => nodeOffers(n, transport));
  if (found) return found;
  throw new UserError(
    carrying.length
      ? `--${flag} ${gpu.id}: no node carrying it offers transport '${transport.id}' (${carrying.map((n) => `${n.id}: ${n.transports.join(', ')}`).join('; ')})`
      : `--${flag} ${gpu.id}: no catalog node carries this GPU (nixlsim list nodes)`,
  );
}

/** Roles on hardware of their own, resolved: node, TP sizes that hold the weights, and the group fields of a probe. */
function resolveRoles(o: PlanOptions, catalog: Catalog, llm: LlmSpec, gpu: GpuSpec, node: NodeSpec, transport: TransportSpec, engine: EngineArgs): Partial<Record<Role, RoleSetup>> {
  const roles: Partial<Record<Role, RoleSetup>> = {};
  for (const [role, id] of [['prefill', o.prefillGpu], ['decode', o.decodeGpu]] as const) {
    if (id === undefined) continue;
    const g = getGpu(catalog, id);
    if (g.id === gpu.id) continue; // the deployment's own GPU: nothing of its own
    const n = nodeForGpu(catalog, `${role}-gpu`, g, node, transport);
    const tp = fittingTpSizes(llm, getGpu(catalog, n.gpu), tpSizes(llm, n), engine);
    if (tp.sizes.length === 0) throw new UserError(`--${role}-gpu ${g.id}: --model ${llm.id} fits no TP a worker can have on '${n.id}' (${tp.excluded.map((e) => `TP${e.tp}: ${e.reason}`).join('; ')})`);
    const b = g.vllmBatchDefaults;
    const own = {
      ...(b.maxNumBatchedTokens !== engine.maxNumBatchedTokens ? { maxNumBatchedTokens: b.maxNumBatchedTokens } : {}),
      ...(b.maxNumSeqs !== engine.maxNumSeqs ? { maxNumSeqs: b.maxNumSeqs } : {}),
    };
    const dpEp = fittingDpEpShapes(llm, getGpu(catalog, n.gpu), n, engine);
    roles[role] = { gpu: g, node: n, tp, dpEp, group: { node: n.id, gpu: g.id, ...(Object.keys(own).length ? { engine: own } : {}) } };
  }
  return roles;
}

/** The prices by GPU id, checked: every GPU the plan may use has one. */
function resolvePrices(cost: PlanOptions['gpuCost'], gpus: readonly string[]): Record<string, number> | undefined {
  if (cost === undefined) return undefined;
  const prices: Record<string, number> = typeof cost === 'number' ? Object.fromEntries(gpus.map((g) => [g, cost])) : { ...cost };
  for (const [g, p] of Object.entries(prices)) checkNumber('gpu-cost', p, p > 0 && Number.isFinite(p), `a price in USD per GPU-hour > 0 (${g})`);
  const missing = gpus.filter((g) => prices[g] === undefined);
  if (missing.length) throw new UserError(`--gpu-cost: no price for ${missing.join(', ')}; give one price for all, or <gpu>=<USD> for each GPU the plan uses (${gpus.join(', ')})`);
  return prices;
}

/** The shapes configurations are built from: the TP sizes, then a MoE model's DP/EP shapes. */
export function shapesOf(x: { tp: TpChoice; dpEp: DpEpChoice }): (number | Shape)[] {
  return [...x.tp.sizes, ...x.dpEp.shapes];
}

/** Shapes of the roles on hardware of their own, for enumerate. */
export function roleSizes(s: Setup): RoleSizes {
  return {
    ...(s.roles.prefill ? { prefill: shapesOf(s.roles.prefill) } : {}),
    ...(s.roles.decode ? { decode: shapesOf(s.roles.decode) } : {}),
  };
}

/** USD per hour of a configuration's GPUs, each role at its GPU's price; null without prices. */
export function configCost(s: Setup, c: Candidate): number | null {
  if (!s.prices) return null;
  const price = (role: Role | 'aggregated') => s.prices![(role !== 'aggregated' ? s.roles[role]?.gpu.id : undefined) ?? s.gpu.id]!;
  if (c.mode === 'aggregated') return c.aggregated.workers * shapeGpus(c.aggregated) * price('aggregated');
  return c.prefill.workers * shapeGpus(c.prefill) * price('prefill') + c.decode.workers * shapeGpus(c.decode) * price('decode');
}

/**
 * Of the TP sizes a worker can have (tpSizes), those whose share of the weights leaves room for KV with the engine's
 * memory settings; the others are excluded with the reason, so no configuration is built on a TP that cannot load
 * the model.
 */
export function fittingTpSizes(llm: LlmSpec, gpu: GpuSpec, choice: TpChoice, args: EngineArgs): TpChoice {
  const sizes: number[] = [];
  const excluded = [...choice.excluded];
  for (const tp of choice.sizes) {
    try {
      kvPoolBlocks({ id: 'plan', llm, gpu, tp, args, eff: defaultEfficiency(gpu) });
      sizes.push(tp);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      excluded.push({ tp, reason: `weights do not fit: ${err.message}` });
    }
  }
  excluded.sort((a, b) => a.tp - b.tp);
  return { sizes, excluded };
}

/** A MoE model's DP/EP shapes: those the planner builds configurations from, and those left out with why. */
export interface DpEpChoice {
  shapes: Shape[];
  excluded: { shape: string; reason: string }[];
}

/**
 * Of the DP/EP shapes a MoE model's workers can have on the node (dpEpShapes), those whose weights leave room for KV
 * on every GPU (kvPoolBlocks with the worker's DP ranks and expert group); the others are left out with the reason.
 */
export function fittingDpEpShapes(llm: LlmSpec, gpu: GpuSpec, node: NodeSpec, args: EngineArgs): DpEpChoice {
  const out: DpEpChoice = { shapes: [], excluded: [] };
  for (const g of dpEpShapes(llm, node)) {
    try {
      kvPoolBlocks({ id: 'plan', llm, gpu, tp: g.tp, args, eff: defaultEfficiency(gpu), parallel: { dp: g.dp ?? 1, ep: g.ep ?? 1 } });
      out.shapes.push(g);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      out.excluded.push({ shape: shapeText(g), reason: `weights do not fit: ${err.message}` });
    }
  }
  return out;
}

export function setup(o: PlanOptions): Setup {
  const catalog = o.catalog ?? defaultCatalog();
  checkNumber('gpus', o.gpus, Number.isInteger(o.gpus) && o.gpus >= 1 && o.gpus <= MAX_GPUS, `a whole number from 1 to ${MAX_GPUS}`);
  const requests = o.requests ?? DEFAULT_REQUESTS;
  const warmup = o.warmup ?? DEFAULT_WARMUP;
  const precision = o.precision ?? DEFAULT_PRECISION;
  checkNumber('requests', requests, Number.isInteger(requests) && requests >= 1, 'a whole number >= 1');
  checkNumber('warmup', warmup, Number.isInteger(warmup) && warmup >= 0, 'a whole number >= 0');
  checkNumber('precision', precision, precision > 0 && precision < 1, 'a fraction > 0 and < 1 (0.05 is 5%)');
  if (o.windowS !== undefined) checkNumber('window', o.windowS, o.windowS > 0 && Number.isFinite(o.windowS), 'a number of seconds > 0');

  const llm = getLlm(catalog, o.model);
  const node = getNode(catalog, o.node);
  const gpu = getGpu(catalog, o.gpu ?? node.gpu);
  if (!nodeHasGpu(node, gpu)) throw new UserError(`--gpu ${gpu.id}: node '${node.id}' has ${node.gpu} GPUs; leave --gpu out or pick a node with ${gpu.id}`);
  const transport = getTransport(catalog, o.transport);
  if (!nodeOffers(node, transport)) {
    throw new UserError(`--transport ${transport.id}: node '${node.id}' does not offer it (it offers: ${node.transports.join(', ')})`);
  }
  // Unnamed: the catalog's default profile (`default: true` on its models/connector/ record).
  const profile = o.connector !== undefined ? getConnector(catalog, o.connector) : defaultConnector(catalog);
  const slo = typeof o.slo === 'string' ? parseSlo(o.slo) : o.slo;

  const sizing: ProbeSizing = { windowS: o.windowS ?? defaultWindowS(slo, precision), minRequests: requests, maxRequests: Math.max(requests, MAX_PROBE_REQUESTS) };
  const workload = resolveWorkload(o.workload, {
    catalog,
    llm,
    requests,
    warmup,
    maxRecords: sizing.maxRequests + warmup,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.set ? { set: o.set } : {}),
  });
  const ids: Omit<DeploymentSection, 'mode'> = { model: llm.id, gpu: gpu.id, node: node.id, connector: profile.id, transport: transport.id, ...structuredClone(workload.routing ?? {}) };
  // The template's worker has the widest TP a worker can have, the likeliest to hold the model; the loader says
  // when even that does not fit.
  const shapes = tpSizes(llm, node);
  if (shapes.sizes.length === 0) throw new UserError(`--model ${llm.id}: no TP a worker can have on '${node.id}' (${shapes.excluded.map((e) => `TP${e.tp}: ${e.reason}`).join('; ')})`);
  const widest = shapes.sizes[shapes.sizes.length - 1]!;
  let template = templateExperiment(ids, widest, workload, catalog);
  // The file's own engine arguments (FP8 KV, speculative decoding, batch sizes it set, ...) go into every probe.
  const engine = ownEngineArgs(workload.engine, template.deployment.engine);
  if (engine) {
    ids.engine = engine;
    template = templateExperiment(ids, widest, workload, catalog);
    workload.notes.push(`every deployment runs ${workload.source}'s engine arguments: ${Object.keys(engine).join(', ')}`);
  }
  const tp = fittingTpSizes(llm, getGpu(catalog, node.gpu), shapes, template.deployment.engine);
  const dpEp = fittingDpEpShapes(llm, getGpu(catalog, node.gpu), node, template.deployment.engine);
  const roles = resolveRoles(o, catalog, llm, gpu, node, transport, template.deployment.engine);
  const prices = resolvePrices(o.gpuCost, [...new Set([gpu.id, ...Object.values(roles).map((r) => r.gpu.id)])]);
  return { catalog, llm, node, gpu, transport, profile, ids, slo, placement: o.placement ?? 'auto', precision, sizing, workload, template, tp, dpEp, prices, roles, extras: groupExtras({ roles }) };
}

/** A configuration that can run: where its prefill and decode go, its deployment section, its physics ceilings. */
export interface Assessed {
  candidate: Candidate;
  placement: Placement | undefined;
  deployment: DeploymentSection;
  ceilings: Ceilings;
}

/** Configurations checked against the prune rules: those pruned (with why), and the rest with their ceilings. */
export function assess(s: Setup, list: readonly Candidate[]): { live: Assessed[]; pruned: PrunedEntry[] } {
  const { llm, gpu, node, transport, profile, template, workload } = s;
  const engine = template.deployment.engine;
  const hw = Object.fromEntries(Object.entries(s.roles).map(([r, x]) => [r, { gpu: x.gpu, node: x.node }]));
  const ctx: PruneContext = { llm, gpu, node, transport, profile, engine, longest: workload.longest, placement: s.placement, roles: hw, catalog: s.catalog };
  const est: EstimateContext = { llm, gpu, node, transport, engine, bandwidth: template.deployment.bandwidth, islMean: workload.islMean, oslMean: workload.oslMean, roles: hw, allToAll: (n) => (n.allToAll !== undefined ? getAllToAll(s.catalog, n.allToAll) : undefined) };
  const live: Assessed[] = [];
  const pruned: PrunedEntry[] = [];
  for (const c of list) {
    const v = pruneCandidate(c, ctx);
    const placement = v.ok ? v.placement : undefined;
    const deployment = deploymentOf(c, placement, s.ids, s.extras);
    if (!v.ok) pruned.push({ id: candidateId(c), label: candidateLabel(c), deployment, rule: v.rule, reason: v.reason });
    else live.push({ candidate: c, placement, deployment, ceilings: ceilings(c, est) });
  }
  return { live, pruned };
}

/** The budget's configurations: those pruned (with why) and the rest, each with a search ready to start. */
function candidates(s: Setup, gpus: number): { live: Live[]; pruned: PrunedEntry[]; tp: TpChoice } {
  const { live, pruned } = assess(s, enumerate(gpus, shapesOf(s), roleSizes(s)));
  return {
    live: live.map((a) => ({ ...a, search: new RateSearch({ startRate: capacityFrom(a.candidate.mode, a.ceilings) / 2, precision: s.precision }), results: new Map() })),
    pruned,
    tp: s.tp,
  };
}

/**
 * Results of a batch of probes: each looked up in the store, the missing ones simulated together (and stored). A
 * result comes back through JSON, as a stored one does, so a fresh run and a rerun see the same numbers.
 */
export async function probeBatch(points: readonly Point[], s: Setup, store: ProbeStore, sim: SimulateBatch): Promise<{ results: PointResult[]; simulated: number }> {
  const keys = points.map((p) => probeKey(p, s.catalog, s.workload));
  const results: (PointResult | undefined)[] = keys.map((k) => store.get(k));
  const missing = points.flatMap((p, i) => (results[i] === undefined ? [i] : []));
  if (missing.length > 0) {
    const fresh = await sim(
      missing.map((i) => points[i]!),
      s.catalog,
    );
    if (fresh.length !== missing.length) throw new InvariantError(`simulated ${missing.length} probes, got ${fresh.length} results`);
    missing.forEach((i, k) => {
      const r = JSON.parse(JSON.stringify(fresh[k])) as PointResult;
      store.put(keys[i]!, points[i]!, r);
      results[i] = r;
    });
  }
  return { results: results as PointResult[], simulated: missing.length };
}

/**
 * Advances every search to its end, a round at a time: the next probe of each unfinished search (probeBatch), then
 * each search told whether its probe met the SLO.
 */
async function searchAll(live: readonly Live[], s: Setup, store: ProbeStore, sim: SimulateBatch, onRound?: PlanOptions['onRound']): Promise<PlanResult['probes']> {
  const counts = { total: 0, simulated: 0, reused: 0 };
  for (let round = 1; ; round++) {
    const batch = live.flatMap((l) => {
      const rate = l.search.next();
      return rate === undefined ? [] : [{ l, rate, point: probePoint(s.template, l.candidate, l.placement, rate, s.workload, s.sizing, s.extras) }];
    });
    if (batch.length === 0) return counts;
    const { results, simulated } = await probeBatch(
      batch.map((b) => b.point),
      s,
      store,
      sim,
    );
    counts.total += batch.length;
    counts.simulated += simulated;
    counts.reused += batch.length - simulated;
    batch.forEach((b, i) => {
      const r = results[i]!;
      b.l.results.set(b.rate, r);
      b.l.search.record(b.rate, checkSlo(r, s.slo).pass);
    });
    onRound?.(round, batch.length, simulated);
  }
}

/** launch.sh for a recommended configuration, with the engine flags its probe simulated. */
export function launchFor(s: Setup, deployment: DeploymentSection, point: Point, what: string): string {
  return recommendedLaunch({
    deployment,
    router: point.experiment.deployment.router,
    ...(point.experiment.deployment.routerConfig ? { routerConfig: point.experiment.deployment.routerConfig } : {}),
    engine: point.experiment.deployment.engine,
    groupEngine: Object.fromEntries(Object.entries(s.roles).flatMap(([r, x]) => (x.group.engine ? [[r, x.group.engine]] : []))),
    groupNode: Object.fromEntries(Object.entries(s.roles).map(([r, x]) => [r, x.node])),
    llm: s.llm,
    node: s.node,
    transport: s.transport,
    title: `${what}; ${s.llm.id} on ${s.node.id} (${s.gpu.id}), KV over ${s.transport.id}.`,
  });
}

/** One mean-length request's KV transfer with nothing else on the wire, ms (disaggregated), for the report. */
function kvAloneMs(l: Live, s: Setup): number | null {
  const c = l.candidate;
  if (c.mode !== 'disaggregated' || l.placement === undefined) return null;
  return estimateTransfer({
    llm: s.llm,
    transport: s.transport,
    tokens: Math.max(1, Math.round(s.workload.islMean)),
    prefillTp: c.prefill.tp,
    decodeTp: c.decode.tp,
    prefillNode: s.roles.prefill?.node ?? s.node,
    decodeNode: s.roles.decode?.node ?? s.node,
    hostLinkBandwidth: Math.min((s.roles.prefill?.gpu ?? s.gpu).hostLink.copyBandwidth, (s.roles.decode?.gpu ?? s.gpu).hostLink.copyBandwidth),
    placement: l.placement,
    bandwidth: s.template.deployment.bandwidth,
    prefillBlockSize: s.template.deployment.engine.blockSize,
    ...(s.template.deployment.engine.kvLayout ? { kvLayout: s.template.deployment.engine.kvLayout } : {}),
    concurrent: 1,
    timeoutS: Infinity,
  }).ms;
}

export function inputsOf(s: Setup, gpus: number): PlanJson['inputs'] {
  const w = s.workload;
  return {
    ...s.ids,
    gpus,
    placement: s.placement,
    slo: s.slo.map((t) => t.text),
    workload: {
      source: w.source,
      kind: w.kind,
      islMean: w.islMean,
      oslMean: w.oslMean,
      longest: w.longest,
      warmupPerProbe: w.warmup,
      ...(w.trace ? { traceRate: Math.round(w.trace.baseRate * 1e6) / 1e6 } : {}),
      notes: w.notes,
    },
    probe: { windowS: s.sizing.windowS, minRequests: s.sizing.minRequests, maxRequests: s.sizing.maxRequests },
    seed: w.seed,
    precision: s.precision,
    ...(Object.keys(s.roles).length ? { roles: Object.fromEntries(Object.entries(s.roles).map(([r, x]) => [r, { gpu: x.gpu.id, node: x.node.id }])) } : {}),
    gpuCostUsdPerHour: s.prices ?? null,
  };
}

/** plan.json's dpEpShapes: a MoE model's DP/EP shapes, when the node offers any (absent for dense models). */
export function dpEpOf(s: Setup): Pick<PlanJson, 'dpEpShapes'> {
  const d = s.dpEp;
  return d.shapes.length + d.excluded.length > 0 ? { dpEpShapes: { shapes: d.shapes.map(shapeText), excluded: d.excluded } } : {};
}

/** Plans: everything but writing the report files (output.ts). Probes are stored in <out>/probes/ as they finish. */
export async function plan(o: PlanOptions, simulate?: SimulateBatch): Promise<PlanResult> {
  const s = setup(o);
  const { live, pruned, tp } = candidates(s, o.gpus);
  const outDir = o.out !== undefined ? resolve(o.out) : defaultOutDir({ ...o, model: s.llm.id, node: s.node.id, transport: s.transport.id });
  const store = new ProbeStore(join(outDir, PROBES_DIR), o.fresh ?? false);
  const threads = simulate ? undefined : poolSimulator(o.workers);
  let probes: PlanResult['probes'];
  try {
    probes = await searchAll(live, s, store, simulate ?? threads!.simulate, o.onRound);
  } finally {
    await threads?.close();
  }

  const searched: SearchedConfig[] = live.map((l) => ({
    candidate: l.candidate,
    deployment: l.deployment,
    search: l.search.result(),
    results: l.results,
    kvAloneMs: kvAloneMs(l, s),
    ceilings: l.ceilings,
  }));
  const ranked = rank(searched.map((x) => entryOf(x, s.slo, configCost(s, x.candidate))));
  const top = ranked[0]?.meetsSlo ? ranked[0] : undefined;
  const topLive = top ? live.find((l) => candidateId(l.candidate) === top.id) : undefined;
  const planJson: PlanJson = {
    schemaVersion: 1,
    inputs: inputsOf(s, o.gpus),
    recommended: top ? { ...top.deployment, maxRate: top.maxRate, goodputPerGpu: top.goodputPerGpu } : null,
    verdict: verdictOf(ranked, s.precision, pruned),
    ranked,
    pruned,
    tpSizes: tp,
    ...dpEpOf(s),
  };
  const recommendedPoint = top && topLive ? probePoint(s.template, topLive.candidate, topLive.placement, top.maxRate, s.workload, s.sizing, s.extras) : null;
  return {
    plan: planJson,
    workload: s.workload,
    slo: s.slo,
    sizing: s.sizing,
    recommendedPoint,
    launch: top && recommendedPoint ? launchFor(s, top.deployment, recommendedPoint, `${top.label}: up to ${top.maxRate} req/s within ${s.slo.map((t) => t.text).join(', ')}`) : null,
    outDir,
    probes,
  };
}
