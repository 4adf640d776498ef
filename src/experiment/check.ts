/**
 * The rules an experiment must satisfy against the catalog: every id names a record, the node has the GPU and offers
 * the transport, the transport can connect workers placed as asked, TP splits the model's KV heads evenly, the model
 * leaves room for KV blocks on each worker's GPUs, and the requests fit the model's context. What the simulation is there to find out is not checked: a TP pair a vLLM build
 * rejects or crashes on, a placement where transfers 'fail', a transfer that outlasts the expiry. Those are scenarios.
 *
 * Also here: the rules an `expect:` entry must satisfy against the sweep and the point result's shape.
 */
import { getConnector, getGpu, getLlm, getNode, getTransport, nodeHasGpu, nodeOffers } from '../catalog/load.js';
import { closest, unknownNameMessage } from '../catalog/suggest.js';
import type { Catalog, ConnectorProfile, ExpiryModel, GpuSpec, LlmSpec, NodeSpec, TransportSpec } from '../spec/catalog.js';
import { resolveVllm } from '../catalog/vllm.js';
import { quoted, UserError } from '../errors.js';
import { checkNvlinkDomain, checkParallelism, checkPlacement, defaultEfficiency, gpusOf, groupParallelism, isPlainTp, kvHeadsPerRank, withKvCacheDtype, type Parallelism } from '../physics/index.js';
import { resolveSpeculative, SpeculativeError } from '../physics/speculative.js';
import { kvPoolBlocks } from '../serving/engine.js';
import { canonicalJson } from '../spec/canonical.js';
import { EVENT_KINDS } from '../spec/events.js';
import { fieldPaths, METRIC_MAPS, METRIC_PATHS, type ExpectEntry } from './schema.js';
import type { Experiment, ExperimentFile } from '../spec/experiment.js';
import { describe, valueAt, type Path, type Problem } from './yaml-errors.js';

/** Runs `f`; a UserError it throws (a catalog lookup, a physics rule) becomes a problem at `path`. */
function at<T>(path: Path, also: Path[], f: () => T): T | Problem {
  try {
    return f();
  } catch (err) {
    if (err instanceof UserError) return { path, also, message: err.message };
    throw err;
  }
}

function isProblem(v: unknown): v is Problem {
  return typeof v === 'object' && v !== null && 'message' in v && 'path' in v;
}

const D = 'deployment';

export interface CatalogRecords {
  llm: LlmSpec;
  node: NodeSpec;
  transport: TransportSpec;
  gpu: string;
  /** vLLM's batch defaults on that GPU, for engine arguments the file leaves unset. */
  batchDefaults: { maxNumBatchedTokens: number; maxNumSeqs: number };
  /** The connector profile's id: `connector`, or the profile of the `vllm` release. */
  connector: string;
  /** The expiry of the `vllm` release's builds where its range states one (before any `expiry` of the file). */
  releaseExpiry?: ExpiryModel;
  /** The groups of the mode that have a node or GPU of their own: theirs, and vLLM's batch defaults on that GPU. */
  groups: Partial<Record<GroupName, { node: NodeSpec; gpu: string; batchDefaults: { maxNumBatchedTokens: number; maxNumSeqs: number } }>>;
}

type GroupName = 'prefill' | 'decode' | 'aggregated';

/** A group's node and GPU (its own, else the deployment's), or the problem with them. */
function groupHardware(
  dep: ExperimentFile['deployment'],
  g: GroupName,
  node: NodeSpec,
  catalog: Catalog,
): Problem | { node: NodeSpec; gpu: GpuSpec; own: boolean } {
  const grp = dep[g];
  let n = node;
  if (grp.node !== undefined) {
    const got = at([D, g, 'node'], [], () => getNode(catalog, grp.node!));
    if (isProblem(got)) return got;
    n = got;
  }
  const gpuId = grp.gpu ?? (grp.node !== undefined ? n.gpu : (dep.gpu ?? n.gpu));
  const gpu = at([D, g, grp.gpu !== undefined ? 'gpu' : 'node'], [], () => getGpu(catalog, gpuId));
  if (isProblem(gpu)) return gpu;
  if (grp.gpu !== undefined && !nodeHasGpu(n, gpu)) {
    return { path: [D, g, 'gpu'], also: [[D, g, 'node'], [D, 'node']], message: `node '${n.id}' has ${n.gpu} GPUs, not '${gpu.id}'; give the group a node with ${gpu.id} GPUs (${g}.node) or leave gpu out` };
  }
  return { node: n, gpu, own: grp.node !== undefined || grp.gpu !== undefined };
}

/** The profile a deployment names, by id or by vLLM release (both: they must agree), or the problem with it. */
function connectorOf(dep: ExperimentFile['deployment'], catalog: Catalog): Problem | { id: string; releaseExpiry?: ExpiryModel } {
  if (dep.vllm === undefined) {
    if (dep.connector === undefined) {
      return { path: [D, 'connector'], also: [], message: 'missing; expected a connector profile (nixlsim list connectors), or vllm: a release such as "0.10.1"' };
    }
    const p = at([D, 'connector'], [], () => getConnector(catalog, dep.connector!));
    return isProblem(p) ? p : { id: p.id };
  }
  const r = at([D, 'vllm'], [], () => resolveVllm(catalog, dep.vllm!));
  if (isProblem(r)) return r;
  if (dep.connector !== undefined && dep.connector !== r.profile.id) {
    return {
      path: [D, 'vllm'],
      also: [[D, 'connector']],
      message: `vLLM ${dep.vllm} is connector profile '${r.profile.id}' (${r.release.versions}), not '${dep.connector}': give one of connector and vllm, or make them agree`,
    };
  }
  return { id: r.profile.id, ...(r.expiry ? { releaseExpiry: r.expiry } : {}) };
}

/** The first rule the experiment breaks, or the catalog records it names. */
export function checkAgainstCatalog(d: ExperimentFile, catalog: Catalog): Problem | CatalogRecords {
  const dep = d.deployment;
  const llm = at([D, 'model'], [], () => getLlm(catalog, dep.model));
  if (isProblem(llm)) return llm;
  const node = at([D, 'node'], [], () => getNode(catalog, dep.node));
  if (isProblem(node)) return node;
  if (dep.gpu !== undefined) {
    const gpu = at([D, 'gpu'], [], () => getGpu(catalog, dep.gpu!));
    if (isProblem(gpu)) return gpu;
    if (!nodeHasGpu(node, gpu)) {
      const others = [...catalog.nodes.values()].filter((n) => n.gpu === gpu.id).map((n) => n.id);
      const hint = others.length ? `pick a node with ${gpu.id} GPUs (${others.join(', ')}) or leave gpu out` : 'leave gpu out';
      return { path: [D, 'gpu'], also: [[D, 'node']], message: `node '${node.id}' has ${node.gpu} GPUs, not '${gpu.id}'; ${hint}` };
    }
  }
  const connector = connectorOf(dep, catalog);
  if (isProblem(connector)) return connector;
  const transport = at([D, 'transport'], [], () => getTransport(catalog, dep.transport));
  if (isProblem(transport)) return transport;

  // Only the groups the mode runs: a sweep over mode should not trip on the group the other mode ignores.
  const groups = dep.mode === 'disaggregated' ? (['prefill', 'decode'] as const) : (['aggregated'] as const);
  for (const g of groups) {
    const r = at([D, g, 'tp'], [[D, 'model']], () => kvHeadsPerRank(llm, dep[g].tp));
    if (isProblem(r)) return r;
  }
  // Each group's node and GPU: its own, or the deployment's.
  const hw = {} as Record<GroupName, { node: NodeSpec; gpu: GpuSpec; own: boolean }>;
  for (const g of groups) {
    const h = groupHardware(dep, g, node, catalog);
    if (isProblem(h)) return h;
    hw[g] = h;
  }
  // Pipeline parallelism: what the connector's builds allow a disaggregated worker; aggregated stages are not modelled.
  for (const g of groups) {
    const pp = dep[g].pp ?? 1;
    if (pp <= 1) continue;
    const profile = getConnector(catalog, connector.id);
    const message =
      dep.mode === 'aggregated'
        ? `pipeline parallelism (pp ${pp}) is not modelled for aggregated workers (nixlsim prices a step on one stage's GPUs); use tp${llm.moe ? ', or dp and ep' : ''}`
        : profile.pipelineParallel === 'unsupported'
          ? `connector profile '${profile.id}' cannot serve ${g} workers with pipeline parallelism (pp ${pp}): vLLM's pull-mode NixlConnector, which Dynamo's vLLM worker runs, refuses a prefill rank's pp_rank > 0 handshake metadata (ValueError, vllm-project/vllm PR #43720), so P/D needs pp 1 on both sides; use tp`
          : g === 'decode'
            ? `connector profile '${profile.id}' takes pipeline parallelism on prefill workers only (NixlPushConnector, vllm-project/vllm PR #45880); decode needs pp 1`
            : `pipeline-parallel prefill (pp ${pp}) over '${profile.id}' is not modelled: nixlsim prices a step and a transfer on one stage's GPUs; use tp`;
    return { path: [D, g, 'pp'], also: dep.mode === 'disaggregated' ? [[D, dep.vllm !== undefined ? 'vllm' : 'connector']] : [], message };
  }
  // DP ranks and the expert group: what vLLM allows for the model, and all-to-all kernels on the node for EP.
  for (const g of groups) {
    const grp = dep[g];
    const problem = parallelismProblem({
      catalog,
      llm,
      parallel: groupParallelism(grp),
      node: hw[g].node,
      profile: getConnector(catalog, connector.id),
      disaggregated: dep.mode === 'disaggregated',
      epGiven: grp.ep !== undefined,
      allToAllGiven: grp.allToAll !== undefined,
    });
    if (problem === undefined) continue;
    const also: Record<typeof problem.rule, Path[]> = {
      parallelism: [[D, g, 'tp'], [D, 'model']],
      allToAll: [[D, g, 'ep']],
      connector: [[D, dep.vllm !== undefined ? 'vllm' : 'connector']],
      node: [[D, hw[g].own ? g : 'node']],
    };
    return { path: [D, g, problem.field], also: also[problem.rule], message: problem.message };
  }
  // Speculative decoding: the method's draft must be one the model has, with an acceptance rate from the file or the model.
  const speculative = dep.engine.speculative ?? undefined; // null: off, as unset
  if (speculative !== undefined) {
    try {
      resolveSpeculative(llm, speculative);
    } catch (err) {
      if (!(err instanceof SpeculativeError)) throw err;
      // A problem with the record's figures is the method's (the file named no rate); a list from the file is its own.
      const field = err.field === 'acceptanceRate' && speculative.acceptanceRate === undefined ? 'method' : err.field;
      return { path: [D, 'engine', 'speculative', field], also: [[D, 'model']], message: err.message };
    }
  }
  // The model must leave room for at least one KV block on each worker's GPUs: the serving layer's own sizing of the
  // KV pool, asked here so that a model that does not fit is a mistake at its line, found before anything runs.
  const batchDefaults = getGpu(catalog, dep.gpu ?? node.gpu).vllmBatchDefaults;
  const argsOn = (defaults: { maxNumBatchedTokens: number; maxNumSeqs: number }) => ({
    ...dep.engine,
    speculative,
    maxNumBatchedTokens: dep.engine.maxNumBatchedTokens ?? defaults.maxNumBatchedTokens,
    maxNumSeqs: dep.engine.maxNumSeqs ?? defaults.maxNumSeqs,
  });
  for (const g of groups) {
    // A calibrated GPU keeps its datasheet's memory: the KV pool is sized on the node's GPU record.
    const gpu = getGpu(catalog, hw[g].node.gpu);
    const p = groupParallelism(dep[g]);
    const parallel = isPlainTp(p) ? {} : { parallel: { dp: p.dp, ep: p.ep } };
    const cfg = { id: g, llm: withKvCacheDtype(llm, dep[g].kvCacheDtype ?? dep.engine.kvCacheDtype), gpu, tp: dep[g].tp, args: argsOn(hw[g].gpu.vllmBatchDefaults), eff: defaultEfficiency(gpu), ...parallel };
    const r = at([D, g, isPlainTp(p) ? 'tp' : 'dp'], [[D, 'model'], [D, 'engine', 'gpuMemoryUtilization'], [D, 'engine', 'activationReserveBytes'], [D, hw[g].own ? g : 'node']], () => kvPoolBlocks(cfg));
    if (isProblem(r)) return r;
  }

  if (dep.mode === 'disaggregated') {
    for (const g of groups) {
      const n = hw[g].node;
      if (!nodeOffers(n, transport)) {
        return {
          path: [D, 'transport'],
          also: [[D, hw[g].own ? g : 'node']],
          message: `node '${n.id}'${hw[g].own ? ` (the ${g} workers')` : ''} does not offer transport '${transport.id}' (it offers: ${n.transports.join(', ')})`,
        };
      }
    }
    // Prefill and decode on nodes of different kinds are on different machines.
    if (hw.prefill.node.id !== hw.decode.node.id && dep.placement !== 'cross-node') {
      return {
        path: [D, 'placement'],
        also: [[D, 'prefill', 'node'], [D, 'decode', 'node']],
        message: `prefill workers on '${hw.prefill.node.id}' and decode workers on '${hw.decode.node.id}' are on different machines: placement must be cross-node, got ${dep.placement}`,
      };
    }
    const placed = at([D, 'transport'], [[D, 'placement']], () => checkPlacement(transport, dep.placement));
    if (isProblem(placed)) return placed;
    const gpus = dep.prefill.workers * gpusOf(groupParallelism(dep.prefill)) + dep.decode.workers * gpusOf(groupParallelism(dep.decode));
    const inDomain = at([D, 'transport'], [[D, 'placement'], [D, 'node']], () => checkNvlinkDomain(transport, hw.prefill.node, dep.placement, gpus, hw.decode.node));
    if (isProblem(inDomain)) return inDomain;
  }

  const w = d.workload;
  if (w.kind !== 'trace' && w.isl?.mean !== undefined && w.osl?.mean !== undefined) {
    const total = w.isl.mean + w.osl.mean;
    if (total > llm.maxContext) {
      return {
        path: ['workload', 'isl', 'mean'],
        also: [['workload', 'osl', 'mean'], [D, 'model']],
        message: `isl.mean + osl.mean = ${w.isl.mean} + ${w.osl.mean} = ${total} tokens exceeds the ${llm.maxContext}-token context (maxContext) of '${llm.id}'`,
      };
    }
  }
  const own: CatalogRecords['groups'] = {};
  for (const g of groups) if (hw[g].own) own[g] = { node: hw[g].node, gpu: hw[g].gpu.id, batchDefaults: hw[g].gpu.vllmBatchDefaults };
  return {
    llm,
    node,
    transport,
    gpu: dep.gpu ?? node.gpu,
    batchDefaults,
    connector: connector.id,
    ...(connector.releaseExpiry ? { releaseExpiry: connector.releaseExpiry } : {}),
    groups: own,
  };
}

/** What parallelismProblem checks a worker group's DP ranks and expert group against. */
export interface ParallelismInput {
  catalog: Catalog;
  llm: LlmSpec;
  parallel: Parallelism;
  /** The node the group runs on. */
  node: NodeSpec;
  profile: ConnectorProfile;
  disaggregated: boolean;
  /** Whether the group names ep (the field a parallelism problem is reported at, for a MoE model). */
  epGiven?: boolean;
  /** Whether the group names allToAll kernels. */
  allToAllGiven?: boolean;
}

/**
 * The first rule a worker group's data-parallel ranks and expert group break, or undefined: what vLLM allows for the
 * model (checkParallelism); allToAll named without EP; DP ranks in a disaggregated deployment whose connector build
 * gives them one NIXL engine; EP on a node without all-to-all kernels. The loader reports it at deployment.<group>.<field>;
 * the planner (src/plan/prune.ts) prunes the configurations that break it.
 */
export function parallelismProblem(x: ParallelismInput): { rule: 'parallelism' | 'allToAll' | 'connector' | 'node'; field: 'dp' | 'ep' | 'allToAll'; message: string } | undefined {
  const { catalog, llm, parallel: p, node: n, profile } = x;
  const field = p.ep > 1 || (llm.moe !== undefined && x.epGiven) ? 'ep' : 'dp';
  try {
    checkParallelism(llm, p);
  } catch (err) {
    if (err instanceof UserError) return { rule: 'parallelism', field, message: err.message };
    throw err;
  }
  if (x.allToAllGiven && p.ep <= 1) {
    return { rule: 'allToAll', field: 'allToAll', message: `names the all-to-all kernels of expert parallelism, but the group has none (ep ${p.ep}): set ep to tp x dp = ${gpusOf(p)}, or leave allToAll out` };
  }
  // Each DP rank is its own NIXL engine, in the builds that give it its own engine id and side channel.
  if (x.disaggregated && p.dp > 1 && profile.dataParallel === 'unsupported') {
    const ok = [...catalog.connectors.values()].filter((c) => c.dataParallel !== 'unsupported').map((c) => c.id);
    return {
      rule: 'connector',
      field: 'dp',
      message:
        `connector profile '${profile.id}' cannot serve workers with data-parallel ranks: its builds give every DP rank one NIXL engine id and side-channel port (vllm-project/vllm#18903 fixed it)` +
        `${ok.length ? `; profiles that can: ${ok.join(', ')}` : ''}; or dp 1`,
    };
  }
  if (p.ep > 1 && n.allToAll === undefined) {
    const others = [...catalog.nodes.values()].filter((o) => o.allToAll !== undefined).map((o) => o.id);
    return {
      rule: 'node',
      field: 'ep',
      message:
        `node '${n.id}' names no expert-parallel all-to-all kernels (allToAll in models/node/), so EP's dispatch and combine cannot be priced there` +
        `${others.length ? `; nodes that do: ${others.join(', ')}` : ''}; or leave ep at 1 (the experts split by tensor parallelism)`,
    };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------------
// expect

const FIELD_PATHS = fieldPaths();
const EVENT_METRICS = EVENT_KINDS.map((k) => `events.${k}`);

/** Why `metric` names no metric of a point result, or undefined when it names one. */
export function metricProblem(metric: string): string | undefined {
  if (METRIC_PATHS.includes(metric)) return undefined;
  const map = METRIC_MAPS.find((m) => metric.startsWith(`${m}.`));
  if (map !== undefined) {
    const key = metric.slice(map.length + 1);
    if (map === 'events' && !(EVENT_KINDS as readonly string[]).includes(key)) return unknownNameMessage('event kind', key, EVENT_KINDS);
    // Workers and links are named by the run (decode-0, prefill-1.rank3.nic); a name it lacks fails when checked.
    return key === '' ? `expected ${map}.<name>, got '${metric}'` : undefined;
  }
  const group = [...METRIC_PATHS, ...METRIC_MAPS].filter((m) => m.startsWith(`${metric}.`));
  if (group.length > 0) return `'${metric}' is a group of metrics; name one of ${group.join(', ')}`;
  const guess = closest(metric, [...METRIC_PATHS, ...EVENT_METRICS]);
  if (guess !== undefined) return `unknown metric ${quoted(metric)}; did you mean '${guess}'?`;
  return `unknown metric ${quoted(metric)}; a metric is a dotted path to a number in a point of summary.json, e.g. ttftMs.p50, itlMs.mean, throughput.outputTokensPerS, requests.failed, events.fell_back, utilisation.workers.decode-0`;
}

/**
 * Whether a point is one an expectation's `point` selects: every path in it has the given value in the point's params
 * or, for a path --set pinned (so no longer swept), in the point's experiment.
 */
export function pointMatches(select: Record<string, unknown>, params: Record<string, unknown>, experiment?: Experiment): boolean {
  return Object.entries(select).every(([path, want]) => {
    const got = path in params ? params[path] : experiment !== undefined ? valueAt(experiment, path.split('.')) : undefined;
    return canonicalJson(got) === canonicalJson(want);
  });
}

/**
 * The first problem of the file's expectations: a metric that names nothing, a `point` path that is not swept, a
 * `point` no point of the file matches. `points` are the file's own (before --set), `swept` their params' paths.
 */
export function checkExpectations(entries: ExpectEntry[], points: { id: string; params: Record<string, unknown> }[], swept: string[]): Problem | undefined {
  for (const [i, e] of entries.entries()) {
    const bad = metricProblem(e.metric);
    if (bad) return { path: ['expect', i, 'metric'], message: bad };
    const select = e.point ?? {};
    for (const key of Object.keys(select)) {
      if (swept.includes(key)) continue;
      const at: Path = ['expect', i, 'point', key];
      const sweptText = swept.length ? `the sweep has ${swept.join(', ')}` : 'this file has no sweep, so leave point out';
      const guess = closest(key, swept);
      if (guess !== undefined) return { path: at, message: `'${key}' is not swept; did you mean '${guess}'? (point selects points by their swept values; ${sweptText})` };
      const what = FIELD_PATHS.includes(key) ? `${quoted(key)} is not swept` : `unknown path ${quoted(key)}`;
      return { path: at, message: `${what}; point selects points by their swept values (${sweptText})` };
    }
    if (!points.some((p) => pointMatches(select, p.params))) {
      const takes = Object.keys(select).map((k) => {
        const seen = [...new Map(points.map((p) => [canonicalJson(p.params[k]), p.params[k]])).values()];
        return `${k} takes ${seen.map(shown).join(', ')}`;
      });
      return { path: ['expect', i, 'point'], message: `selects none of the ${points.length} points (${takes.join('; ')})` };
    }
  }
  return undefined;
}

function shown(v: unknown): string {
  return typeof v === 'string' ? v : v !== null && typeof v === 'object' ? JSON.stringify(v) : describe(v);
}
