/**
 * launch.sh: the launch settings for a planned deployment, written beside recommended.yaml. The recipe (commands, the
 * role flag, the kv-transfer-config, the environment each transport needs) is data, models/launch/dynamo-vllm.yaml,
 * with a source per entry; this module reads it (file:line errors, as the catalog's) and lays the workers out on
 * nodes: prefill and decode on separate nodes when the plan placed them cross-node, all on one node otherwise, each
 * worker on the next free GPUs of its node, with the per-instance ports vLLM and Dynamo need on a shared host.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { projectRoot } from '../catalog/load.js';
import type { LlmSpec, NodeSpec, TransportSpec } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import type { EngineArgs, RouterSettings } from '../spec/experiment.js';
import { describe, moreSuffix, sortProblems, YamlSource, zodProblems } from '../experiment/yaml-errors.js';
import type { DeploymentSection } from './types.js';
import { shapeText } from './enumerate.js';

const text = z.string().min(1);
const port = z.number().int().min(1024).max(65535);

const recipeSchema = z
  .object({
    id: text,
    dynamo: text.describe('the Dynamo releases the recipe is for'),
    frontend: text.refine((s) => s.includes('{routerMode}'), 'must contain {routerMode}, where the router mode goes'),
    routerModes: z.record(z.string(), text),
    routerFlags: z.strictObject({ overlapScoreWeight: text, temperature: text, queueThreshold: text, busyThreshold: text, hostCacheHitWeight: text, diskCacheHitWeight: text }),
    worker: text,
    roleFlag: text,
    kvTransferConfig: text,
    kvTransferConfigWithBackend: text.refine((s) => s.includes('{backend}'), 'must contain {backend}, where the NIXL backend goes'),
    sideChannelPortBase: port,
    systemPortBase: port,
    transports: z.record(z.string(), z.object({ env: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name'), text), notes: z.array(text).optional() }).strict()),
    sources: z.record(z.string(), text),
  })
  .strict();

export type LaunchRecipe = z.infer<typeof recipeSchema>;

export const defaultRecipeFile = (): string => join(projectRoot(), 'models', 'launch', 'dynamo-vllm.yaml');

/** Reads and checks a recipe: the schema, and a source for every field and every transport. */
export function loadRecipe(file = defaultRecipeFile()): LaunchRecipe {
  const y = new YamlSource(file, readFileSync(file, 'utf8'));
  y.checkSyntax();
  const raw: unknown = y.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) y.fail([], `expected a map of fields, got ${describe(raw)}`);
  const parsed = recipeSchema.safeParse(raw);
  if (!parsed.success) {
    const found = sortProblems(zodProblems(parsed.error.issues, recipeSchema, raw), y);
    y.fail(found[0]!.path, found[0]!.message + moreSuffix(found.length - 1));
  }
  const r = parsed.data as LaunchRecipe;
  const need = [...Object.keys(r).filter((k) => k !== 'id' && k !== 'sources' && k !== 'transports'), ...Object.keys(r.transports).map((t) => `transports.${t}`)];
  for (const k of need) if (r.sources[k] === undefined) y.fail(['sources'], `no source for '${k}': every entry names where it comes from`);
  return r;
}

export interface LaunchInput {
  deployment: DeploymentSection;
  /** The experiment's router (round-robin, least-loaded, kv-aware). */
  router: string;
  /** The experiment's deployment.routerConfig, when it has one (its unset keys at Dynamo v1.0.0's defaults). */
  routerConfig?: RouterSettings;
  engine: EngineArgs;
  /** Engine arguments of a group that differ from `engine` (vLLM's batch defaults on a group's own GPU). */
  groupEngine?: Partial<Record<'prefill' | 'decode', Partial<EngineArgs>>>;
  llm: LlmSpec;
  node: NodeSpec;
  /** Nodes of the groups on hardware of their own. */
  groupNode?: Partial<Record<'prefill' | 'decode', NodeSpec>>;
  transport: TransportSpec;
  /** One line saying what was planned, for the header. */
  title: string;
}

interface Placed {
  role: 'aggregated' | 'prefill' | 'decode';
  index: number;
  of: number;
  tp: number;
  /** DP ranks and expert group (MoE workers; 1 and 1 otherwise). The worker takes tp x dp GPUs. */
  dp: number;
  ep: number;
  /** node-1, node-2, ... as numbered in the script (node-1..node-2 for a worker spanning two). */
  node: string;
  gpus: number[];
  slot: number;
  /**
   * The worker's first NIXL side-channel port offset on its node: each DP rank listens on the base port + its rank
   * (vllm-project/vllm#18903), so a worker's ranks take dp ports after those of the workers before it. slot for TP workers.
   */
  portSlot: number;
}

/**
 * Workers on nodes: each role's workers take the next free GPUs of the current node, and a new node when they do not
 * fit; cross-node placement starts decode on a node of its own. A worker wider than a node spans whole nodes.
 */
export function placeWorkers(d: DeploymentSection, nodeGpus: number, roleGpus: Partial<Record<'prefill' | 'decode', number>> = {}): Placed[] {
  const groups: [Placed['role'], { workers: number; tp: number; dp?: number; ep?: number }][] =
    d.mode === 'aggregated' ? [['aggregated', d.aggregated!]] : [['prefill', d.prefill!], ['decode', d.decode!]];
  const out: Placed[] = [];
  let nodeNo = 0;
  let used = Infinity; // forces a first node
  let slot = 0;
  let ports = 0;
  const newNode = () => {
    nodeNo++;
    used = 0;
    slot = 0;
    ports = 0;
  };
  for (const [role, g] of groups) {
    const gpusPerNode = (role !== 'aggregated' ? roleGpus[role] : undefined) ?? nodeGpus;
    if (role === 'decode' && d.placement === 'cross-node') used = Infinity;
    const [dp, ep] = [g.dp ?? 1, g.ep ?? 1];
    const width = g.tp * dp;
    for (let i = 0; i < g.workers; i++) {
      if (width > gpusPerNode) {
        newNode();
        const span = Math.ceil(width / gpusPerNode);
        out.push({ role, index: i + 1, of: g.workers, tp: g.tp, dp, ep, node: `node-${nodeNo}..node-${nodeNo + span - 1}`, gpus: [], slot: 0, portSlot: 0 });
        nodeNo += span - 1;
        used = Infinity;
        continue;
      }
      if (used + width > gpusPerNode) newNode();
      out.push({ role, index: i + 1, of: g.workers, tp: g.tp, dp, ep, node: `node-${nodeNo}`, gpus: Array.from({ length: width }, (_, k) => used + k), slot, portSlot: ports });
      used += width;
      slot++;
      ports += dp;
    }
  }
  return out;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The frontend flags of the experiment's routerConfig, none without one: the KV router's weight, temperature and queue
 * threshold in KV mode (other modes do not read them), the busy threshold in any mode; a null threshold (off) has no
 * flag, and a note where the frontend's own default may differ from off.
 */
function routerFlags(recipe: LaunchRecipe, x: LaunchInput): { flags: string[]; notes: string[] } {
  const c = x.routerConfig;
  if (c === undefined) return { flags: [], notes: [] };
  const f = recipe.routerFlags;
  const kv = x.router === 'kv-aware';
  const flags = [
    ...(kv ? [`${f.overlapScoreWeight} ${c.overlapScoreWeight}`, `${f.temperature} ${c.temperature}`] : []),
    ...(kv && c.queueThreshold !== null ? [`${f.queueThreshold} ${c.queueThreshold}`] : []),
    ...(c.busyThreshold !== null ? [`${f.busyThreshold} ${c.busyThreshold}`] : []),
    // Tier-based routing exists only in releases after v1.0.0, so the flag is written only when the model used it.
    ...(kv && c.hostCacheHitWeight > 0 ? [`${f.hostCacheHitWeight} ${c.hostCacheHitWeight}`] : []),
    ...(kv && c.diskCacheHitWeight > 0 ? [`${f.diskCacheHitWeight} ${c.diskCacheHitWeight}`] : []),
  ];
  const notes = [
    ...(kv && c.queueThreshold === null
      ? [`The model simulated no router queue (routerConfig.queueThreshold null), so no ${f.queueThreshold}; a release whose frontend queues by default (Dynamo v1.0.0: 2) still queues.`]
      : []),
    ...(kv && (c.hostCacheHitWeight > 0 || c.diskCacheHitWeight > 0)
      ? [`The cache-hit weights need a Dynamo release with tier-based KV routing (PR #10157); v1.0.0 routes on GPU blocks only.`]
      : []),
  ];
  return { flags, notes };
}

/** The script: header, the transport's environment, the frontend, one command per worker. */
export function launchScript(recipe: LaunchRecipe, x: LaunchInput): string {
  const d = x.deployment;
  const disagg = d.mode === 'disaggregated';
  const t = recipe.transports[x.transport.id];
  const backend = x.transport.backend;
  const lines = [
    '#!/usr/bin/env bash',
    `# ${x.title}`,
    `# Generated by nixlsim plan from models/launch/${recipe.id}.yaml (NVIDIA Dynamo ${recipe.dynamo}, vLLM with NixlConnector). Start etcd and NATS`,
    '# first (Dynamo: dev/docker-compose.yml); run each worker line on the node its comment names. Engine flags are the ones the',
    '# model simulated; the rest are vLLM defaults.',
    'set -euo pipefail',
    '',
  ];
  if (disagg) {
    if (t === undefined) {
      lines.push(`# No launch environment is known for transport '${x.transport.id}' (models/launch/${recipe.id}.yaml): set its NIXL backend's variables.`);
    } else {
      lines.push(`# KV transport ${x.transport.id}, NIXL backend ${backend}: the same environment on every worker.`);
      for (const n of t.notes ?? []) lines.push(`# ${n}`);
      for (const [k, v] of Object.entries(t.env)) lines.push(`export ${k}=${quote(v)}`);
    }
    lines.push('');
  }
  const mode = recipe.routerModes[x.router];
  const router = routerFlags(recipe, x);
  lines.push(
    `# The frontend (any node): HTTP on port 8000, the router the model simulated (${x.router}${router.flags.length ? ', with its routerConfig' : ''}).`,
    ...(mode === undefined ? [`# No Dynamo router mode is known for '${x.router}'; pick one: ${Object.values(recipe.routerModes).join(', ')}.`] : []),
    ...router.notes.map((n) => `# ${n}`),
    `${[recipe.frontend.replace('{routerMode}', mode ?? Object.values(recipe.routerModes)[0] ?? 'round-robin'), ...router.flags].join(' ')} &`,
    '',
  );
  const kvConfig = backend === 'UCX' ? recipe.kvTransferConfig : recipe.kvTransferConfigWithBackend.replace('{backend}', backend);
  const nodeOf = (role: Placed['role']) => (role !== 'aggregated' ? x.groupNode?.[role] : undefined) ?? x.node;
  const roleGpus = Object.fromEntries(Object.entries(x.groupNode ?? {}).map(([r, n]) => [r, n.gpusPerNode]));
  for (const w of placeWorkers(d, x.node.gpusPerNode, roleGpus)) {
    const kind = nodeOf(w.role).id;
    const e = { ...x.engine, ...(w.role !== 'aggregated' ? x.groupEngine?.[w.role] : undefined) };
    const dpEp = w.dp > 1 || w.ep > 1;
    const shape = dpEp ? shapeText(w) : `TP${w.tp}`;
    const across = dpEp
      ? `${shape} across nodes: vLLM's multi-node data-parallel launch, this command on the first node with --data-parallel-size-local ${nodeOf(w.role).gpusPerNode / w.tp} --data-parallel-address <its IP>, and on each further node with --headless --data-parallel-start-rank <the ranks before it>`
      : `TP${w.tp} across nodes: vLLM's multi-node launch with Ray`;
    const where = w.gpus.length ? `${w.node} (${kind}), GPUs ${w.gpus.join(',')}` : `${w.node} (${kind}; ${across})`;
    lines.push(`# ${w.role === 'aggregated' ? 'Worker' : `${w.role === 'prefill' ? 'Prefill' : 'Decode'} worker`} ${w.index} of ${w.of} (${shape}): ${where}`);
    const env = [
      ...(w.gpus.length ? [`CUDA_VISIBLE_DEVICES=${w.gpus.join(',')}`] : []),
      ...(disagg ? [`VLLM_NIXL_SIDE_CHANNEL_PORT=${recipe.sideChannelPortBase + w.portSlot}`] : []),
      `DYN_SYSTEM_PORT=${recipe.systemPortBase + w.slot}`,
    ];
    const flags = [
      `--model ${x.llm.hfRepo}`,
      ...(disagg ? [`${recipe.roleFlag} ${w.role}`] : []),
      `--tensor-parallel-size ${w.tp}`,
      ...(w.dp > 1 ? [`--data-parallel-size ${w.dp}`] : []),
      ...(w.ep > 1 ? ['--enable-expert-parallel'] : []),
      `--max-num-batched-tokens ${e.maxNumBatchedTokens}`,
      `--max-num-seqs ${e.maxNumSeqs}`,
      `--block-size ${e.blockSize}`,
      `--gpu-memory-utilization ${e.gpuMemoryUtilization}`,
      ...(e.longPrefillTokenThreshold ? [`--long-prefill-token-threshold ${e.longPrefillTokenThreshold}`] : []),
      ...(e.enforceEager ? ['--enforce-eager'] : []),
      ...(e.kvCacheDtype !== undefined && e.kvCacheDtype !== 'auto' ? [`--kv-cache-dtype ${e.kvCacheDtype}`] : []),
      ...(e.speculative ? [`--speculative-config ${quote(JSON.stringify({ method: e.speculative.method, num_speculative_tokens: e.speculative.numSpeculativeTokens }))}`] : []),
      ...(e.prefixCaching ? [] : ['--no-enable-prefix-caching']),
      ...(disagg ? [`--kv-transfer-config ${quote(kvConfig)}`] : []),
    ];
    lines.push(`${env.join(' ')} ${recipe.worker} \\`, ...flags.map((f, k) => `  ${f}${k < flags.length - 1 ? ' \\' : ' &'}`), '');
  }
  lines.push('wait');
  return `${lines.join('\n')}\n`;
}

/** launch.sh for a plan's recommended configuration (a UserError when the recipe is broken). */
export function recommendedLaunch(x: LaunchInput, recipeFile?: string): string {
  try {
    return launchScript(loadRecipe(recipeFile), x);
  } catch (err) {
    if (err instanceof UserError) throw new UserError(`launch recipe: ${err.message}`);
    throw err;
  }
}
