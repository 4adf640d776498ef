/**
 * The shape of the YAML files under models/, in the units datasheets use (GB/s, TFLOP/s, us), with the unit in the key
 * name so a reader never has to guess. load.ts validates a file against these and converts it to the SI records of
 * src/spec/catalog.ts. Objects are strict: a misspelt key is an error, not a silently ignored figure.
 */
import { z } from 'zod';
import { closest } from './suggest.js';

/** Ids appear in experiment files and on the command line: keep them easy to type. */
export const idSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]*$/, 'expected an id of lowercase letters, digits, dots and dashes (e.g. h100-sxm)');

const text = z.string().min(1, 'expected a non-empty string');
const positive = z.number().positive();
const count = z.number().int().positive();
const dtype = z.enum(['bf16', 'fp16', 'fp8']);

/**
 * Field (YAML key, dotted for nested keys) -> where its number came from. The loader checks that every numeric field is
 * covered, by its own key or by a parent's.
 */
export const sourcesSchema = z.record(z.string(), text);

/** A figure with its real spread. The order check keeps a swapped min/max from passing as a valid range. */
export const rangeSchema = z
  .strictObject({ min: positive, typical: positive, max: positive })
  .superRefine((r, ctx) => {
    if (r.min > r.typical) ctx.addIssue({ code: 'custom', path: ['min'], message: `min (${r.min}) must be <= typical (${r.typical})` });
    if (r.typical > r.max) ctx.addIssue({ code: 'custom', path: ['max'], message: `max (${r.max}) must be >= typical (${r.typical})` });
  });

/** A calibration factor; `fraction` ones are shares of a peak and cannot exceed 1. */
function factorSchema(fraction: boolean) {
  return z.strictObject({ value: positive, min: positive, max: positive }).superRefine((f, ctx) => {
    if (f.min > f.value) ctx.addIssue({ code: 'custom', path: ['min'], message: `min (${f.min}) must be <= value (${f.value})` });
    if (f.value > f.max) ctx.addIssue({ code: 'custom', path: ['max'], message: `max (${f.max}) must be >= value (${f.value})` });
    if (fraction && f.max > 1) ctx.addIssue({ code: 'custom', path: ['max'], message: `max (${f.max}) must be <= 1: a fraction of peak` });
  });
}

/**
 * A mixture-of-experts model's routed FFN (Hugging Face config.json): per MoE layer `routedExperts` experts of three
 * hidden x moeIntermediateSize matrices (gate, up, down), `expertsPerToken` of them chosen for each token, and
 * `sharedExperts` of the same shape every token passes through; the first `firstDenseLayers` layers have a dense FFN of
 * intermediateSize instead. Group-limited routing (DeepSeek-V3's n_group / topk_group) picks `groupsPerToken` of
 * `expertGroups` equal groups first and the experts inside them; both or neither.
 */
const moeSchema = z
  .strictObject({
    routedExperts: count,
    expertsPerToken: count,
    sharedExperts: z.number().int().min(0),
    moeIntermediateSize: count,
    firstDenseLayers: z.number().int().min(0),
    expertGroups: count.optional(),
    groupsPerToken: count.optional(),
  })
  .superRefine((m, ctx) => {
    if (m.expertsPerToken > m.routedExperts) {
      ctx.addIssue({ code: 'custom', path: ['expertsPerToken'], message: `expertsPerToken (${m.expertsPerToken}) must be <= routedExperts (${m.routedExperts})` });
    }
    if ((m.expertGroups === undefined) !== (m.groupsPerToken === undefined)) {
      const [has, lacks] = m.expertGroups === undefined ? ['groupsPerToken', 'expertGroups'] : ['expertGroups', 'groupsPerToken'];
      ctx.addIssue({ code: 'custom', path: [has], message: `${has} needs ${lacks} (config.json n_group and topk_group): give both or neither` });
    }
    if (m.expertGroups !== undefined && m.routedExperts % m.expertGroups !== 0) {
      ctx.addIssue({ code: 'custom', path: ['expertGroups'], message: `expertGroups (${m.expertGroups}) must divide routedExperts (${m.routedExperts})` });
    }
    if (m.expertGroups !== undefined && m.groupsPerToken !== undefined && m.groupsPerToken > m.expertGroups) {
      ctx.addIssue({ code: 'custom', path: ['groupsPerToken'], message: `groupsPerToken (${m.groupsPerToken}) must be <= expertGroups (${m.expertGroups})` });
    }
  });

/**
 * What a model ships for speculative decoding, by vLLM --speculative-config method: `acceptanceRate`, the chance a
 * draft token is accepted given the drafts before it were, or `acceptanceByPosition`, measured per position (published
 * figures for that method and model, else the experiment gives one), and `draftLayers`, the transformer layers one draft pass runs (MTP: config.json
 * num_nextn_predict_layers; EAGLE: the head's num_hidden_layers). A method a model has no entry for needs a draft
 * the catalog does not know (MTP: the model ships no MTP module). n-gram proposes from the prompt on the CPU: no layers.
 */
const draftSchema = z
  .strictObject({
    acceptanceRate: z.number().gt(0).lt(1).optional(),
    /** vLLM's 'acceptance at token i' as measured: the share of drafts whose position i was accepted (non-increasing). */
    acceptanceByPosition: z.array(z.number().gt(0).lt(1)).min(1).optional(),
    draftLayers: count,
  })
  .superRefine((d, ctx) => {
    const p = d.acceptanceByPosition ?? [];
    for (let i = 1; i < p.length; i++) {
      if (p[i]! > p[i - 1]!) ctx.addIssue({ code: 'custom', path: ['acceptanceByPosition', i], message: `${p[i]} is above position ${i - 1}'s ${p[i - 1]}: the rates cannot rise` });
    }
  });
const speculativeSchema = z.strictObject({
  mtp: draftSchema.optional(),
  eagle: draftSchema.optional(),
  eagle3: draftSchema.optional(),
  ngram: z.strictObject({ acceptanceRate: z.number().gt(0).lt(1) }).optional(),
});

const llmCommon = {
  id: idSchema,
  name: text,
  hfRepo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'expected a Hugging Face repository, owner/name'),
  layers: count,
  hiddenSize: count,
  heads: count,
  intermediateSize: count,
  vocabSize: count,
  /** Total parameters, in billions as model cards quote them. */
  paramsB: positive,
  /** Parameters touched per token, in billions; equals paramsB for dense models. */
  activeParamsB: positive,
  weightDtype: dtype,
  kvDtype: dtype,
  maxContext: count,
  /** Mixture of experts: the routed FFN's shape; absent for a dense model. */
  moe: moeSchema.optional(),
  /** Speculative decoding drafts the model ships or has published figures for, by method; absent: none. */
  speculative: speculativeSchema.optional(),
  sources: sourcesSchema,
};

/** GQA (and MHA, kvHeads = heads): K and V per KV head per layer. */
export const gqaLlmSchema = z
  .strictObject({ ...llmCommon, attention: z.literal('gqa'), kvHeads: count, headDim: count })
  .superRefine((m, ctx) => {
    if (m.heads % m.kvHeads !== 0) {
      ctx.addIssue({ code: 'custom', path: ['kvHeads'], message: `kvHeads (${m.kvHeads}) must divide heads (${m.heads})` });
    }
  });

/** MLA (DeepSeek-V2/V3): one compressed latent plus the decoupled RoPE key per layer, replicated on every TP rank. */
export const mlaLlmSchema = z.strictObject({
  ...llmCommon,
  attention: z.literal('mla'),
  mla: z.strictObject({ kvLoraRank: count, ropeDim: count }),
});

export const llmFileSchema = z
  .discriminatedUnion('attention', [gqaLlmSchema, mlaLlmSchema])
  .superRefine((m, ctx) => {
    if (m.activeParamsB > m.paramsB) {
      ctx.addIssue({ code: 'custom', path: ['activeParamsB'], message: `activeParamsB (${m.activeParamsB}) must be <= paramsB (${m.paramsB})` });
    }
    const moe = m.moe;
    if (moe === undefined) return;
    if (moe.firstDenseLayers >= m.layers) {
      ctx.addIssue({ code: 'custom', path: ['moe', 'firstDenseLayers'], message: `firstDenseLayers (${moe.firstDenseLayers}) must be < layers (${m.layers}): a MoE model has MoE layers` });
      return;
    }
    // The routed experts' weights alone (3 matrices of hidden x moeIntermediateSize each) cannot outweigh the model,
    // nor the experts a token passes through its active parameters: a misread config.json shows up here.
    const perExpert = 3 * m.hiddenSize * moe.moeIntermediateSize * (m.layers - moe.firstDenseLayers);
    const routed = (perExpert * moe.routedExperts) / 1e9;
    const active = (perExpert * (moe.expertsPerToken + moe.sharedExperts)) / 1e9;
    if (routed > m.paramsB) {
      ctx.addIssue({ code: 'custom', path: ['moe', 'routedExperts'], message: `the routed experts alone hold ${routed.toFixed(1)}B parameters, more than paramsB (${m.paramsB})` });
    } else if (active > m.activeParamsB) {
      ctx.addIssue({ code: 'custom', path: ['moe', 'expertsPerToken'], message: `the experts a token passes through hold ${active.toFixed(1)}B parameters, more than activeParamsB (${m.activeParamsB})` });
    }
  });

export const gpuFileSchema = z.strictObject({
  id: idSchema,
  name: text,
  /** Dense (no sparsity) peak, TFLOP/s. */
  bf16Tflops: positive,
  /** null: no FP8 tensor cores (A100). */
  fp8Tflops: positive.nullable(),
  hbmGB: positive,
  hbmTBps: positive,
  /** Bidirectional, as datasheets quote it. */
  nvlinkGBps: positive,
  /** GBps is per direction. */
  /**
   * GBps is the link's rate per direction; copyGBps what a DMA copy (cudaMemcpyAsync) reaches in one direction and
   * duplexGBps what copies in both directions at once reach together, as measured (unset: GBps, and twice copyGBps).
   */
  hostLink: z.strictObject({ name: text, GBps: positive, copyGBps: positive.optional(), duplexGBps: positive.optional() }),
  efficiency: z.strictObject({
    prefillCompute: factorSchema(true),
    decodeMemory: factorSchema(true),
    stepOverheadS: factorSchema(false),
    /** Seconds per layer per step under --enforce-eager: a duration, not a fraction. */
    eagerLayerOverheadS: factorSchema(false),
    /** Seconds per layer per step of a piecewise CUDA-graph step (attention launched eagerly between graph pieces). */
    piecewiseLayerOverheadS: factorSchema(false),
    /** Seconds of latency per tensor-parallel all-reduce, on top of its bytes over NVLink. */
    allReduceLatencyS: factorSchema(false),
    /** Host seconds per step on a disaggregated decode worker (the pull side of vLLM's NixlConnector under Dynamo). */
    connectorStepOverheadS: factorSchema(false),
  }),
  /** vLLM's max_num_batched_tokens / max_num_seqs defaults for an OpenAI API server (the usage context Dynamo uses) on this GPU. */
  vllmBatchDefaults: z.strictObject({ maxNumBatchedTokens: count, maxNumSeqs: count }),
  /**
   * A record written by `nixlsim calibrate`: the GPU it calibrates. Experiments may name it on a node of that GPU,
   * the efficiency factors being measured for this site's hardware and software, the datasheet figures the same.
   */
  calibratedFrom: idSchema.optional(),
  sources: sourcesSchema,
});

export const nodeFileSchema = z
  .strictObject({
    id: idSchema,
    name: text,
    gpu: idSchema,
    gpusPerNode: count,
    /**
     * GPUs one NVLink domain spans, when it spans several nodes (GB200 NVL72: 72 GPUs over 18 trays of 4). Unset: the
     * node's own GPUs, as on an HGX/DGX board. TP groups and multi-node NVLink transfers within it stay on NVLink.
     */
    nvlinkDomainGpus: count.optional(),
    /** lineRateGbps is gigaBITs per second per NIC, as NIC datasheets quote it (100 Gb/s = 12.5 GB/s). */
    nics: z.strictObject({ kind: z.enum(['efa', 'infiniband', 'roce', 'ethernet']), count, lineRateGbps: positive }),
    transports: z.array(idSchema).min(1, 'expected at least one transport id'),
    /** The expert-parallel all-to-all kernels (models/all-to-all/) this node's fabric runs; unset: none (no EP). */
    allToAll: idSchema.optional(),
    sources: sourcesSchema,
  })
  .superRefine((n, ctx) => {
    n.transports.forEach((t, i) => {
      if (n.transports.indexOf(t) !== i) ctx.addIssue({ code: 'custom', path: ['transports', i], message: `transport '${t}' listed twice` });
    });
    const d = n.nvlinkDomainGpus;
    if (d !== undefined && (d < n.gpusPerNode || d % n.gpusPerNode !== 0)) {
      ctx.addIssue({ code: 'custom', path: ['nvlinkDomainGpus'], message: `nvlinkDomainGpus (${d}) must be a whole multiple of gpusPerNode (${n.gpusPerNode}): a domain is made of whole nodes` });
    }
  });

const placementRuleSchema = z
  .strictObject({ outcome: z.enum(['works', 'unavailable', 'fails']), reason: text.optional() })
  .superRefine((p, ctx) => {
    // A placement that does not work must say why in words a user would search for: that is the point of modelling it.
    if (p.outcome !== 'works' && p.reason === undefined) {
      ctx.addIssue({ code: 'custom', path: ['reason'], message: `expected a reason when the outcome is '${p.outcome}'` });
    }
  });

/** The roles a transport record may play when a deployment's fast path is missing (fallbackWhen). */
export const TRANSPORT_FALLBACKS = ['no-rdma', 'no-gpudirect'] as const;

/** Vega-Lite's point shapes, those a transport's display.shape may name. */
export const POINT_SHAPES = ['circle', 'square', 'cross', 'diamond', 'triangle-up', 'triangle-down', 'triangle-right', 'triangle-left', 'wedge', 'stroke'] as const;

export const transportFileSchema = z.strictObject({
  id: idSchema,
  name: text,
  /** NIXL backend plugin name, as vLLM's kv_connector_extra_config spells it. */
  backend: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'expected a NIXL backend name in capitals (UCX, LIBFABRIC, ...)'),
  bandwidthPerRailGBps: rangeSchema,
  striped: z.boolean(),
  /**
   * Reaches only GPUs of one NVLink domain (multi-node NVLink): between nodes only while both workers are inside the
   * domain of their node record's nvlinkDomainGpus.
   */
  nvlinkDomainOnly: z.boolean().optional(),
  latencyUs: positive,
  perReadUs: positive,
  perDescriptorUs: positive,
  /** The real spread of perDescriptorUs (Monte Carlo bands and sensitivity draw from it); absent: the figure is exact. */
  perDescriptorUsRange: z.strictObject({ min: positive, max: positive }).optional(),
  gpuDirect: z.boolean(),
  /**
   * Striped transports: the NIC rails one rank's READs stripe over, by backend. `gpu-nics` (the default): the NICs
   * topologically nearest its GPU, its share of the node's (NIXL libfabric); `per-rank-max`: up to `max` of the node's
   * NICs, shared with the worker's other ranks (UCX: UCX_MAX_RNDV_RAILS); `all-node-nics`: every NIC of the node
   * (Mooncake's transfer engine).
   */
  railRule: z
    .strictObject({ rule: z.enum(['gpu-nics', 'per-rank-max', 'all-node-nics']), max: count.optional() })
    .superRefine((r, ctx) => {
      if (r.rule === 'per-rank-max' && r.max === undefined) ctx.addIssue({ code: 'custom', path: ['max'], message: "expected max (NICs a rank stripes over) with rule 'per-rank-max'" });
      if (r.rule !== 'per-rank-max' && r.max !== undefined) ctx.addIssue({ code: 'custom', path: ['max'], message: `max applies to rule 'per-rank-max' only, not '${r.rule}'` });
    })
    .optional(),
  /** Striped transports: the most of a NIC's line rate one rail moves (headers, NIC efficiency); default 1. */
  lineRateShare: z.number().positive().max(1, 'expected a share of the line rate, at most 1').optional(),
  /**
   * How the backend retries a READ the fabric keeps refusing (EAGAIN), where a placement `fails` that way: the delay
   * before attempt n is min(baseDelayUs x (1 + floor(n / 10)), maxDelayUs), and every logEveryAttempts attempts it logs.
   */
  eagainRetry: z.strictObject({ baseDelayUs: positive, maxDelayUs: positive, logEveryAttempts: count, line: text }).optional(),
  /** Every placement must be stated: a missing one would silently read as "works". */
  placements: z.strictObject({
    'intra-pod': placementRuleSchema,
    'same-node': placementRuleSchema,
    'cross-node': placementRuleSchema,
  }),
  /**
   * vLLM's NIXL side channel (the ZMQ socket the handshake's metadata request and reply cross) runs over this path: its
   * latencyUs is a side-channel message's, whatever transport moves the KV. At most one record of a catalog says so.
   */
  sideChannel: z.literal(true).optional(),
  /**
   * The path a deployment ends up on when its fast one is missing: `no-rdma`, what UCX falls back to when it finds no
   * RDMA device; `no-gpudirect`, RDMA without GPUDirect, staged through host memory. `nixlsim audit` tries each as a
   * cause of a slower measurement. Both move the KV through host memory, so the record has gpuDirect: false; at most
   * one record of a catalog plays each role.
   */
  fallbackWhen: z.enum(TRANSPORT_FALLBACKS).optional(),
  /** How charts draw it, the same on every chart: a colour (#rrggbb) and a point shape no other transport has. */
  display: z.strictObject({ colour: z.string().regex(/^#[0-9a-f]{6}$/, 'expected a colour #rrggbb in lowercase hex, e.g. #4c78a8'), shape: z.enum(POINT_SHAPES) }).optional(),
  /** A record written by `nixlsim calibrate`: the transport it calibrates. A node offering that one offers this. */
  calibratedFrom: idSchema.optional(),
  sources: sourcesSchema,
}).superRefine((t, ctx) => {
  if (t.fallbackWhen !== undefined && t.gpuDirect) {
    ctx.addIssue({ code: 'custom', path: ['fallbackWhen'], message: `a fallback ('${t.fallbackWhen}') moves the KV through host memory; expected gpuDirect: false with it` });
  }
  const r = t.perDescriptorUsRange;
  if (r !== undefined && !(r.min <= t.perDescriptorUs && t.perDescriptorUs <= r.max)) {
    ctx.addIssue({ code: 'custom', path: ['perDescriptorUsRange'], message: `expected min <= perDescriptorUs (${t.perDescriptorUs}) <= max, got ${r.min} to ${r.max}` });
  }
});

// ---------------------------------------------------------------------------------------------------------------------
// connector/: what a vLLM build's NixlConnector does, as data

/** The placeholders code fills in an error message; any other {name} in a message is a typo. */
export const CONNECTOR_PLACEHOLDERS = ['prefillTp', 'decodeTp', 'prefillBlockSize', 'decodeBlockSize', 'engineId', 'timeoutS', 'port'] as const;
export type ConnectorPlaceholder = (typeof CONNECTOR_PLACEHOLDERS)[number];

/** `{name}` (word characters, as code that fills messages matches them) is a placeholder; braces around anything else
 * (`{"key": false}`, `{ x }`) are literal text. */
const PLACEHOLDER = /\{(\w+)\}/g;

/** The placeholder names in a message, in order, repeats included. */
export function placeholdersIn(message: string): string[] {
  return [...message.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '');
}

/** An exception as the build logs it: the Python type (dotted for modules, e.g. zmq.error.Again) and its text. */
const connectorErrorSchema = z.strictObject({
  error: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'expected a Python exception type (e.g. AssertionError, zmq.error.Again)'),
  message: text.superRefine((m, ctx) => {
    const known: readonly string[] = CONNECTOR_PLACEHOLDERS;
    for (const name of placeholdersIn(m)) {
      if (!known.includes(name)) {
        const guess = closest(name, known);
        const hint = guess === undefined ? '' : `; did you mean {${guess}}?`;
        ctx.addIssue({ code: 'custom', message: `unknown placeholder {${name}}${hint}${hint ? ' ' : '; '}placeholders are ${known.map((p) => `{${p}}`).join(' ')}` });
      }
    }
  }),
});

/**
 * Prefill frees a finished request's blocks when no decode worker read them within timeoutS; or (newer builds) a lease
 * of leaseS that decode heartbeats, every heartbeatS, extend to now + extendS.
 */
const expirySchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('abort-timeout'), timeoutS: positive }),
  z.strictObject({ kind: z.literal('lease'), leaseS: positive, heartbeatS: positive, extendS: positive }).superRefine((e, ctx) => {
    if (e.heartbeatS >= e.leaseS) {
      ctx.addIssue({ code: 'custom', path: ['heartbeatS'], message: `heartbeatS (${e.heartbeatS}) must be < leaseS (${e.leaseS}): a lease must see a heartbeat before it lapses` });
    }
  }),
]);

/** A version of a vLLM release, major.minor.patch (e.g. 0.10.1). */
export const VLLM_VERSION = /^(\d+)\.(\d+)\.(\d+)$/;

/**
 * vLLM releases whose NixlConnector this profile stands for: `>=A` or `>=A <B` over major.minor.patch versions, each with
 * its own sources entry (`vllmReleases.<i>`) naming the release notes or the pull request's first release. A release
 * range may differ from the profile in its expiry (e.g. the abort timeout raised by vllm#25897 before the TP rules
 * changed), which it then states.
 */
const vllmReleaseSchema = z
  .strictObject({
    versions: z
      .string()
      .regex(/^>=\d+\.\d+\.\d+( <\d+\.\d+\.\d+)?$/, "expected a release range '>=A' or '>=A <B' of major.minor.patch versions, e.g. '>=0.9.1 <0.11.0'"),
    expiry: expirySchema.optional(),
  })
  .superRefine((r, ctx) => {
    const [lo, hi] = r.versions.split(' ').map((v) => v.replace(/^[<>]=?/, ''));
    if (hi !== undefined && compareVersions(lo ?? '', hi) >= 0) {
      ctx.addIssue({ code: 'custom', path: ['versions'], message: `the lower bound ${lo} must be below the upper bound ${hi}` });
    }
  });

/** Orders two major.minor.patch versions: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The `errors` entries that only some profiles raise. */
const CONDITIONAL_ERRORS = [
  'decodeWiderRejected',
  'prefillWiderRejected',
  'prefillWiderHandshake',
  'prefillWiderFirstTransfer',
  'blockSizePrefillWider',
  'engineUnregistered',
] as const;
type ConditionalError = (typeof CONDITIONAL_ERRORS)[number];

export const connectorFileSchema = z
  .strictObject({
    id: idSchema,
    name: text,
    /** The profile commands use when none is named (plan, breakeven): exactly one record of a catalog says so. */
    default: z.literal(true).optional(),
    /** Upstream pull requests (vllm-project/vllm#N) and builds the profile stands for. */
    upstream: z.array(text).min(1, 'expected at least one upstream pull request or build'),
    tp: z.strictObject({
      /** Decode TP > prefill TP. No build crashes here, so 'crash' has no error entries to go with it. */
      decodeWider: z.enum(['ok', 'rejected']),
      /** Prefill TP > decode TP. */
      prefillWider: z.enum(['ok', 'rejected', 'crash']),
    }),
    errors: z.strictObject({
      decodeWiderRejected: connectorErrorSchema.optional(),
      prefillWiderRejected: connectorErrorSchema.optional(),
      prefillWiderHandshake: connectorErrorSchema.optional(),
      prefillWiderFirstTransfer: connectorErrorSchema.optional(),
      tpNotDivisible: connectorErrorSchema,
      blockSizeMismatch: connectorErrorSchema,
      blockSizePrefillWider: connectorErrorSchema.optional(),
      /** What get_finished() raises, killing the engine, when a handshake failed and left its engine unregistered. */
      engineUnregistered: connectorErrorSchema.optional(),
      compatHashMismatch: connectorErrorSchema,
      handshakeTimeout: connectorErrorSchema,
    }),
    blockSize: z.strictObject({
      rule: z.enum(['equal-only', 'decode-multiple']),
      equalWhenPrefillWider: z.boolean(),
    }),
    handshake: z.strictObject({
      /** ZMQ receive timeout, seconds; null: the build set none and waits forever. */
      timeoutS: positive.nullable(),
      onFailure: z.enum(['engine-dead', 'fail-requests']),
      /**
       * Seconds a decode rank spends per remote descriptor it prepares when it registers a prefill rank (vLLM's
       * add_remote_agent: the descriptor list of every block of the remote pool, get_xfer_descs, prep_xfer_dlist).
       * Unset: 0, no set-up beyond the side channel's round trips, so a user's profile written before the field keeps
       * the behaviour it had.
       */
      prepPerDescriptorS: z.number().nonnegative().optional(),
    }),
    kvLoadFailurePolicy: z.enum(['fail', 'recompute']).nullable(),
    /** Prefill or decode workers with data-parallel ranks: 'unsupported' where the build's DP ranks collide; unset: ok. */
    dataParallel: z.enum(['ok', 'unsupported']).optional(),
    /**
     * Disaggregated workers with pipeline-parallel stages: 'unsupported' (pull-mode NixlConnector), or 'prefill-only'
     * (vLLM's NixlPushConnector, PR #45880: prefill PP, decode without). Unset: unsupported.
     */
    pipelineParallel: z.enum(['unsupported', 'prefill-only']).optional(),
    expiry: expirySchema,
    vllmReleases: z.array(vllmReleaseSchema).min(1, 'expected at least one release range, or leave vllmReleases out').optional(),
    sources: sourcesSchema,
  })
  .superRefine((f, ctx) => {
    // Every way a pair can fail must come with the error a user would see, and no error may sit unused: a profile
    // changed from 'rejected' to 'ok' must not keep a message nothing raises.
    const when: Record<ConditionalError, [boolean, string]> = {
      decodeWiderRejected: [f.tp.decodeWider === 'rejected', `tp.decodeWider is '${f.tp.decodeWider}'`],
      prefillWiderRejected: [f.tp.prefillWider === 'rejected', `tp.prefillWider is '${f.tp.prefillWider}'`],
      prefillWiderHandshake: [f.tp.prefillWider === 'crash', `tp.prefillWider is '${f.tp.prefillWider}'`],
      prefillWiderFirstTransfer: [f.tp.prefillWider === 'crash', `tp.prefillWider is '${f.tp.prefillWider}'`],
      blockSizePrefillWider: [f.blockSize.equalWhenPrefillWider, `blockSize.equalWhenPrefillWider is ${f.blockSize.equalWhenPrefillWider}`],
      // A 'crash' pair without it dies with prefillWiderFirstTransfer's text, what the first get_finished() raises.
      engineUnregistered: [f.handshake.onFailure === 'engine-dead', `handshake.onFailure is '${f.handshake.onFailure}'`],
    };
    // Texts an experiment's connectorOverrides can make a profile raise (tp.prefillWider: crash, handshake.onFailure:
    // engine-dead): required where the profile itself raises them, allowed (kept for such overrides) elsewhere.
    const keptForOverrides: readonly ConditionalError[] = ['prefillWiderHandshake', 'prefillWiderFirstTransfer', 'engineUnregistered'];
    const what: Record<ConditionalError, string> = {
      decodeWiderRejected: 'the error the handshake raises',
      prefillWiderRejected: 'the error the handshake raises',
      prefillWiderHandshake: "the handshake's internal error",
      prefillWiderFirstTransfer: 'the error the first get_finished() raises',
      blockSizePrefillWider: 'the error for unequal block sizes while prefill TP > decode TP',
      engineUnregistered: 'the error get_finished() raises for an engine whose handshake failed',
    };
    for (const key of CONDITIONAL_ERRORS) {
      const [needed, because] = when[key];
      if (needed && f.errors[key] === undefined) {
        ctx.addIssue({ code: 'custom', path: ['errors', key], message: `missing; expected { error, message }, ${what[key]}, because ${because}` });
      } else if (!needed && f.errors[key] !== undefined && !keptForOverrides.includes(key)) {
        ctx.addIssue({ code: 'custom', path: ['errors', key], message: `is never raised because ${because}; remove it` });
      }
    }
    // Strings need no per-field source, but a reader must be able to find where the behaviour and the texts come from.
    for (const [key, covers] of [['upstream', 'the pull requests and builds'], ['errors', 'the error texts (file, function, PR)']] as const) {
      if (f.sources[key] === undefined) ctx.addIssue({ code: 'custom', path: ['sources', key], message: `missing; expected a source for ${covers}` });
    }
    // A release range is a claim about which builds behave so: each needs its own source (release notes, the PR's
    // first release), and two ranges of one profile may not overlap.
    (f.vllmReleases ?? []).forEach((r, i) => {
      if (f.sources[`vllmReleases.${i}`] === undefined) {
        ctx.addIssue({ code: 'custom', path: ['vllmReleases', i, 'versions'], message: `has no source; add 'sources: {vllmReleases.${i}: "<release notes or the first release holding the PR>"}'` });
      }
    });
  });

export type LlmFile = z.output<typeof llmFileSchema>;
export type GpuFile = z.output<typeof gpuFileSchema>;
export type NodeFile = z.output<typeof nodeFileSchema>;
export type TransportFile = z.output<typeof transportFileSchema>;
export type ConnectorFile = z.output<typeof connectorFileSchema>;

/** Measured bandwidths of one EP size, GB/s as the library's README quotes them ("bottleneck bandwidth"). */
const allToAllBandwidth = z.strictObject({ ep: count, dispatchGBps: positive, combineGBps: positive });

/** EP sizes must rise through a table, so that a size between two rows falls between them. */
function ascendingEp(rows: { ep: number }[], ctx: z.RefinementCtx): void {
  rows.forEach((r, i) => {
    if (i > 0 && r.ep <= rows[i - 1]!.ep) ctx.addIssue({ code: 'custom', path: [i, 'ep'], message: `ep (${r.ep}) must be larger than the row before's (${rows[i - 1]!.ep})` });
  });
}

/**
 * Expert-parallel all-to-all kernels (MoE dispatch and combine) as their library measured them: the high-throughput
 * ("normal") kernels by EP size, within a node over NVLink and across nodes over RDMA, and the low-latency kernels'
 * latency and bandwidth at a batch of tokens per rank, on the GPU and NIC named in measuredOn.
 */
export const allToAllFileSchema = z.strictObject({
  id: idSchema,
  name: text,
  library: text,
  measuredOn: z.strictObject({
    gpu: text,
    /** Bidirectional NVLink figure of the measuring GPU's datasheet (the GPU records' convention). */
    nvlinkGBps: positive,
    /** Line rate of the RDMA NIC each measuring GPU had, Gb/s (bits). */
    nicLineRateGbps: positive,
  }),
  /** Bytes a dispatched activation element takes in FP8 (one byte, plus its share of the per-block scale). */
  fp8BytesPerElement: positive,
  highThroughput: z.strictObject({
    intranode: allToAllBandwidth,
    internode: z.array(allToAllBandwidth).min(1, 'expected at least one EP size').superRefine(ascendingEp),
  }),
  lowLatency: z.strictObject({
    /** Tokens per rank of the measurement (each sent to its expertsPerToken experts). */
    tokensPerRank: count,
    points: z
      .array(z.strictObject({ ep: count, dispatchUs: positive, dispatchGBps: positive, combineUs: positive, combineGBps: positive }))
      .min(1, 'expected at least one EP size')
      .superRefine(ascendingEp),
  }),
  sources: sourcesSchema,
});

export type AllToAllFile = z.output<typeof allToAllFileSchema>;
