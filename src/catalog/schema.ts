/**
 * The shape of the YAML files under models/, in the units datasheets use (GB/s, TFLOP/s, us), with the unit in the key
 * name so a reader never has to guess. load.ts validates a file against these and converts it to the SI records of
 * types.ts. Objects are strict: a misspelt key is an error, not a silently ignored figure.
 */
import { z } from 'zod';

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
  hostLink: z.strictObject({ name: text, GBps: positive }),
  efficiency: z.strictObject({
    prefillCompute: factorSchema(true),
    decodeMemory: factorSchema(true),
    stepOverheadS: factorSchema(false),
  }),
  sources: sourcesSchema,
});

export const nodeFileSchema = z
  .strictObject({
    id: idSchema,
    name: text,
    gpu: idSchema,
    gpusPerNode: count,
    /** lineRateGbps is gigaBITs per second per NIC, as NIC datasheets quote it (100 Gb/s = 12.5 GB/s). */
    nics: z.strictObject({ kind: z.enum(['efa', 'infiniband', 'roce', 'ethernet']), count, lineRateGbps: positive }),
    transports: z.array(idSchema).min(1, 'expected at least one transport id'),
    sources: sourcesSchema,
  })
  .superRefine((n, ctx) => {
    n.transports.forEach((t, i) => {
      if (n.transports.indexOf(t) !== i) ctx.addIssue({ code: 'custom', path: ['transports', i], message: `transport '${t}' listed twice` });
    });
  });

const placementRuleSchema = z
  .strictObject({ outcome: z.enum(['works', 'unavailable', 'fails']), reason: text.optional() })
  .superRefine((p, ctx) => {
    // A placement that does not work must say why in words a user would search for: that is the point of modelling it.
    if (p.outcome !== 'works' && p.reason === undefined) {
      ctx.addIssue({ code: 'custom', path: ['reason'], message: `expected a reason when the outcome is '${p.outcome}'` });
    }
  });

export const transportFileSchema = z.strictObject({
  id: idSchema,
  name: text,
  /** NIXL backend plugin name, as vLLM's kv_connector_extra_config spells it. */
  backend: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'expected a NIXL backend name in capitals (UCX, LIBFABRIC, ...)'),
  bandwidthPerRailGBps: rangeSchema,
  striped: z.boolean(),
  latencyUs: positive,
  perReadUs: positive,
  perDescriptorUs: positive,
  gpuDirect: z.boolean(),
  /** Every placement must be stated: a missing one would silently read as "works". */
  placements: z.strictObject({
    'intra-pod': placementRuleSchema,
    'same-node': placementRuleSchema,
    'cross-node': placementRuleSchema,
  }),
  sources: sourcesSchema,
});

export type LlmFile = z.output<typeof llmFileSchema>;
export type GpuFile = z.output<typeof gpuFileSchema>;
export type NodeFile = z.output<typeof nodeFileSchema>;
export type TransportFile = z.output<typeof transportFileSchema>;
