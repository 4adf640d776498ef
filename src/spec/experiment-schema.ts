/**
 * The shape of an experiment file (YAML or JSON), with the defaults a file may leave out: the one source of what an
 * experiment is. The types in experiment.ts are inferred from it (a file as validated is z.output of this schema; the
 * resolved Experiment is that plus what the loader fills in), and the descriptions here are those that
 * experiments/schema.json and the docs show (src/experiment/json-schema.ts).
 *
 * Objects are strict: a misspelt key is an error with a suggestion, never a silently ignored setting. Each leaf's
 * message states only what is expected; src/experiment/yaml-errors.ts appends what was found, giving `expected a whole
 * number >= 1, got 0`. Rules that need other fields or the catalog (TP against KV heads, the node's transports, the
 * context length) live in src/experiment/check.ts; rules between fields of this file alone live in the refinements
 * here.
 *
 * This module loads zod: import it only where a file is validated. Code that only needs the types imports them from
 * experiment.ts (which reads this file as a type only, so `nixlsim --help` and the simulation never load zod for them).
 */
import { z } from 'zod';
import { SPECULATIVE_METHODS } from './catalog.js';
import { ALL_TO_ALL_MODES, DYNAMO_ROUTER_DEFAULTS, FAULT_KINDS, KV_CACHE_DTYPES, KV_LAYOUTS, MAX_IN_FLIGHT } from './experiment.js';

/** A whole number >= min, with a message that says so (shared by every file format with numbers). */
export function whole(min: number) {
  const m = `expected a whole number >= ${min}`;
  return z.number({ error: m }).int({ error: m }).min(min, { error: m });
}

/** A finite number > 0, with a message that says so. */
export function positive() {
  const m = 'expected a number > 0';
  return z.number({ error: m }).positive({ error: m }).finite({ error: m });
}

/**
 * Bounds of physical sense on what an experiment may ask for, each with its reason in the message. Past them a run
 * would not finish on a laptop (a fault every nanosecond, a lease of 1e-300 s, 10^8 clients) or asks for hardware no
 * deployment has; the bounds are documented in docs/limits.md.
 */
export const LIMITS = {
  workers: { max: 1024, why: 'workers in one group; plan a part of the fleet' },
  tp: { max: 1024, why: 'GPUs in one tensor-parallel group' },
  concurrency: { max: MAX_IN_FLIGHT, why: 'clients in flight at once: each holds ~2 KB of state' },
  requests: { max: 100_000_000, why: 'requests in one point' },
  rate: { min: 1e-6, max: 1e7, why: 'requests per second' },
  speedup: { min: 1e-6, max: 1e6, why: 'times the recorded speed' },
  faultRate: { max: 1e4, why: 'faults per simulated second' },
  seconds: { min: 1e-3, max: 1e7, why: 'seconds, from a millisecond (about a step) to about four months' },
  horizonS: { max: 1e7, why: 'simulated seconds (about four months)' },
  speculativeTokens: { max: 32, why: 'draft tokens a step: with an acceptance rate of 0.9 the 32nd is accepted 3% of the time' },
  prefixPrompts: { max: 1_000_000, why: 'distinct prefix prompts' },
  prefixTokens: { max: 10_000_000, why: 'tokens in a prefix prompt, past any model context' },
  turns: { max: 10_000, why: 'turns in one conversation' },
} as const;

/** A whole number from min to max, the bound and its reason in the message. */
export function wholeIn(min: number, max: number, why: string) {
  const m = `expected a whole number from ${min} to ${max.toLocaleString('en-US')} (${why})`;
  return z.number({ error: m }).int({ error: m }).min(min, { error: m }).max(max, { error: m });
}

/** A finite number from min to max (min exclusive when it is 0), the bound and its reason in the message. */
export function numberIn(min: number, max: number, why: string) {
  const m = min === 0 ? `expected a number > 0 and at most ${max} (${why})` : `expected a number from ${min} to ${max} (${why})`;
  const n = z.number({ error: m }).finite({ error: m }).max(max, { error: m });
  return min === 0 ? n.positive({ error: m }) : n.min(min, { error: m });
}

/** A finite number >= 0, with a message that says so. */
export function nonNegative() {
  const m = 'expected a number >= 0';
  return z.number({ error: m }).min(0, { error: m }).finite({ error: m });
}

function fraction() {
  const m = 'expected a number > 0 and <= 1';
  return z.number({ error: m }).positive({ error: m }).max(1, { error: m });
}

function probability() {
  const m = 'expected a probability from 0 to 1';
  return z.number({ error: m }).min(0, { error: m }).max(1, { error: m });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.map((v) => `'${v}'`).join(', ')}` });
}

const bool = () => z.boolean({ error: 'expected true or false' });

/** Catalog ids are checked against models/ in src/experiment/check.ts, where a did-you-mean can list the real ones. */
const catalogId = () => z.string({ error: 'expected a catalog id (nixlsim list ...)' }).min(1, { error: 'expected a catalog id (nixlsim list ...)' });

/** A non-empty string. */
export const text = () => z.string({ error: 'expected a non-empty string' }).min(1, { error: 'expected a non-empty string' });
/** A file's path: a non-empty string without the NUL character, which no file system allows in a name. */
const pathText = () => text().refine((p) => !p.includes('\0'), { error: 'a path cannot hold the NUL character (\\0)' });

export const MODES = ['disaggregated', 'aggregated'] as const;
export const ROUTERS = ['round-robin', 'least-loaded', 'kv-aware', 'random'] as const;
export const FAILURE_POLICIES = ['fallback', 'fail', 'retry'] as const;
export const PLACEMENTS = ['intra-pod', 'same-node', 'cross-node'] as const;
export const BANDWIDTHS = ['min', 'typical', 'max'] as const;
export const WORKLOAD_KINDS = ['closed-loop', 'poisson', 'trace'] as const;
export const TRACE_FORMATS = ['azure', 'mooncake'] as const;

/** Retries a 'retry' policy gets when the file does not say. */
export const DEFAULT_RETRIES = 2;

/** Requests measured when workload.requests is unset; a trace then replays every record (0). */
export const DEFAULT_REQUESTS = 100;

const kvCacheDtype = () => z.enum(KV_CACHE_DTYPES, { error: `expected one of ${KV_CACHE_DTYPES.map((d) => `'${d}'`).join(', ')}` });

const workerGroup = (what: string) =>
  z
    .strictObject({
      workers: wholeIn(1, LIMITS.workers.max, LIMITS.workers.why).default(1).describe('Workers (engines) in the group.'),
      tp: wholeIn(1, LIMITS.tp.max, LIMITS.tp.why).default(1).describe("Tensor-parallel size of each worker: it must divide the model's KV heads or be a multiple of them."),
      node: catalogId()
        .optional()
        .describe("The group's own node type, from `nixlsim list nodes` (e.g. decode on H200 nodes, prefill on H100 nodes). Default: the deployment's node. Prefill and decode on different node types are cross-node."),
      gpu: catalogId().optional().describe("The group's own GPU: its node's GPU or a calibration of it. Default: the group's node's GPU (the deployment's gpu when the group has no node of its own)."),
      kvCacheDtype: kvCacheDtype().optional().describe("The group's own --kv-cache-dtype (e.g. fp8 on decode only, which the compatibility hash rejects). Default: deployment.engine.kvCacheDtype."),
      dp: wholeIn(1, LIMITS.tp.max, LIMITS.tp.why)
        .optional()
        .describe(
          "Data-parallel attention ranks of each worker (vLLM --data-parallel-size), MoE models only: each rank is an engine core of tp GPUs with its own scheduler, KV cache, max_num_seqs and max_num_batched_tokens (the engine's settings apply per rank), a request's KV on one rank; the ranks run the MoE layers in lockstep. A worker is tp x dp GPUs, across nodes when more than a node has. Unset: 1.",
        ),
      ep: wholeIn(1, LIMITS.tp.max, LIMITS.tp.why)
        .optional()
        .describe(
          "Expert-parallel size (vLLM --enable-expert-parallel), MoE models only: tp x dp, the experts spread over every GPU of the worker and tokens dispatched to them with the node's all-to-all kernels (allToAll in models/node/), or 1, the experts split by tensor parallelism over those GPUs (vLLM's default). Unset: 1.",
        ),
      pp: wholeIn(1, LIMITS.tp.max, LIMITS.tp.why)
        .optional()
        .describe(
          "Pipeline-parallel stages of each worker (vLLM --pipeline-parallel-size). Checked against the connector profile's pipelineParallel (`nixlsim list connectors --json`): the NixlConnector builds of the catalog take no pp above 1 on a disaggregated worker, and aggregated pipeline stages are not modelled, so anything but 1 is refused with the reason. Unset: 1.",
        ),
      allToAll: z
        .enum(ALL_TO_ALL_MODES, { error: `expected one of ${ALL_TO_ALL_MODES.map((m) => `'${m}'`).join(', ')}` })
        .optional()
        .describe(
          "With ep > 1, which DeepEP kernels dispatch and combine the tokens (VLLM_ALL2ALL_BACKEND): 'high-throughput' (deepep_high_throughput, bandwidth-bound, no CUDA graphs) or 'low-latency' (deepep_low_latency). Unset: high-throughput on prefill and aggregated workers, low-latency on decode workers, as vLLM's disaggregated EP deployments run them.",
        ),
    })
    .prefault({})
    .describe(what);

/**
 * Dynamo's KV router (--router-mode kv), Dynamo v1.0.0: lib/kv-router/src/scheduling/selector.rs (the cost, the
 * softmax, the tie-break), lib/llm/src/kv_router/sequence.rs (the load it books) and queue.rs (the queue threshold);
 * the defaults are DYNAMO_ROUTER_DEFAULTS (spec/experiment.ts), from the frontend's configuration reference.
 */
const routerConfig = z
  .strictObject({
    overlapScoreWeight: nonNegative()
      .default(DYNAMO_ROUTER_DEFAULTS.overlapScoreWeight)
      .describe(
        `--router-kv-overlap-score-weight (Dynamo v1.0.0 default ${DYNAMO_ROUTER_DEFAULTS.overlapScoreWeight}). The KV router sends a request to the worker of lowest cost = overlapScoreWeight x prefill blocks + decode blocks, where prefill blocks are the prompt tokens the worker would compute (the request's, less its prefix cached there, plus those of requests routed there and not yet past their first token) / block size, and decode blocks the prompt blocks of its unfinished requests plus the request's blocks it does not already hold. Higher favours cache hits (TTFT), lower spreads the load (ITL); 0 ignores the cache. The decode leg of disaggregated serving always routes with 0 (lib/llm/src/kv_router/prefill_router.rs).`,
      ),
    temperature: nonNegative()
      .default(DYNAMO_ROUTER_DEFAULTS.temperature)
      .describe(
        `--router-temperature (default ${DYNAMO_ROUTER_DEFAULTS.temperature}). 0: the lowest cost, ties to the worker with the fewest cached blocks, then a draw among equals. Above 0: a draw with probability proportional to exp(-cost / ((highest cost - lowest cost) x temperature)), so higher spreads requests more evenly. Draws use the run's seed.`,
      ),
    queueThreshold: positive()
      .nullable()
      .default(DYNAMO_ROUTER_DEFAULTS.queueThreshold)
      .describe(
        `--router-queue-threshold (default ${DYNAMO_ROUTER_DEFAULTS.queueThreshold}). A request waits at the KV router, first come first served, while every live worker's prefill tokens (booked as in overlapScoreWeight) exceed this multiple of its max_num_batched_tokens; it is routed when a first token or a finished request frees room. null: no queue.`,
      ),
    busyThreshold: fraction()
      .nullable()
      .default(DYNAMO_ROUTER_DEFAULTS.busyThreshold)
      .describe(
        '--active-decode-blocks-threshold (default unset: null, off). A worker with more than this fraction of its KV blocks in use gets no new request, in every router mode; when every live worker is busy the request fails with HTTP 503 (Dynamo docs/fault_tolerance/request_rejection.md).',
      ),
    hostCacheHitWeight: nonNegative()
      .default(DYNAMO_ROUTER_DEFAULTS.hostCacheHitWeight)
      .describe(
        `--router-host-cache-hit-weight: tier-based KV routing (ai-dynamo/dynamo PR #8380, flags from PR #10157; default there 0.75). The workers' host-tier blocks (deployment.engine.kvOffload) that continue a prompt's prefix past its GPU-cached part count as this much of a cached block against the prompt's prefill blocks: prefill blocks = (prompt tokens - (GPU blocks + hostCacheHitWeight x host blocks) x block size) / block size. Default ${DYNAMO_ROUTER_DEFAULTS.hostCacheHitWeight}: v1.0.0's router, which sees GPU blocks only.`,
      ),
    diskCacheHitWeight: nonNegative()
      .default(DYNAMO_ROUTER_DEFAULTS.diskCacheHitWeight)
      .describe(
        `--router-disk-cache-hit-weight (the same PRs; default there 0.25): the credit of a block on the worker's disk tier (kvOffload.disk) that continues the prefix past its GPU and host blocks. Default ${DYNAMO_ROUTER_DEFAULTS.diskCacheHitWeight}: v1.0.0.`,
      ),
  })
  .describe("Dynamo's KV router settings (and the busy threshold, which every mode honours). Unset keys take Dynamo v1.0.0's defaults.");

/**
 * vLLM's defaults for `vllm serve` on the V1 engine: chunked prefill and prefix caching on, 16-token blocks,
 * gpu_memory_utilization 0.9. max_num_batched_tokens and max_num_seqs, when unset, are what vLLM picks for an OpenAI
 * API server on the deployment's GPU (EngineArgs.get_batch_defaults in vllm/engine/arg_utils.py: 8192 and 1024 on GPUs
 * of 70 GiB or more other than the A100, 2048 and 256 otherwise; Dynamo's vLLM worker builds its engine with that usage
 * context): the GPU record's vllmBatchDefaults.
 * activationReserveBytes is ours, not a vLLM argument: vLLM measures activation memory with a profiling run, which a
 * simulator cannot do, so 4 GB stands in for it.
 */
const engine = z
  .strictObject({
    maxNumBatchedTokens: whole(1)
      .optional()
      .describe(
        "max_num_batched_tokens: the token budget of one step (chunked prefill splits prompts to fit). Unset: vLLM's default for an OpenAI API server on the GPU (vllm/engine/arg_utils.py get_batch_defaults: 8192 on GPUs of >= 70 GiB except A100, else 2048), from the GPU record's vllmBatchDefaults.",
      ),
    maxNumSeqs: whole(1)
      .optional()
      .describe(
        "max_num_seqs: sequences running at once. Unset: vLLM's default for an OpenAI API server on the GPU (get_batch_defaults: 1024 on GPUs of >= 70 GiB except A100, else 256), from the GPU record's vllmBatchDefaults.",
      ),
    blockSize: whole(1).default(16).describe('Tokens per KV block.'),
    kvLayout: z
      .enum(KV_LAYOUTS, { error: `expected one of ${KV_LAYOUTS.map((l) => `'${l}'`).join(', ')}` })
      .default('HND')
      .describe(
        "How the KV cache is laid out and registered with NIXL, which sets the descriptors a KV READ posts per block: 'HND' (FlashAttention, K and V regions per layer, heads outermost: 2 x layers; vLLM's layout when TPs differ), 'NHD' (tokens outermost: x block size when the TPs differ), 'flashinfer' (K and V of a block together: layers), 'cross-layer' (one region for all layers, vLLM PR #30207: 1).",
      ),
    kvCacheDtype: kvCacheDtype()
      .optional()
      .describe(
        "--kv-cache-dtype: 'auto' keeps the model's own KV dtype (the catalog's kvDtype: bf16 for every model there), 'fp8' stores K and V in FP8 (E4M3), one byte an element: half the KV bytes per token, so about twice the blocks in the pool, half the KV a decode step reads from HBM and half the bytes each NIXL READ moves (attention FLOPs are not changed). vLLM hashes the cache dtype into the NixlConnector's handshake compatibility hash (vllm-project/vllm PR #29503), so a prefill and a decode worker with different cache dtypes fail the handshake with the profile's compatHashMismatch error. Unset: auto.",
      ),
    gpuMemoryUtilization: fraction().default(0.9).describe('gpu_memory_utilization: the fraction of HBM vLLM may use for weights, activations and the KV pool.'),
    activationReserveBytes: whole(0)
      .default(4e9)
      .describe("Ours, not vLLM's: bytes of HBM per GPU kept for activations and CUDA graphs before the KV pool is sized."),
    prefixCaching: bool().default(true).describe('enable_prefix_caching.'),
    chunkedPrefill: bool().default(true).describe('enable_chunked_prefill.'),
    longPrefillTokenThreshold: whole(0)
      .optional()
      .describe(
        "long_prefill_token_threshold: the most new prompt tokens one sequence may take in a step, so that a long prompt is prefilled over several steps beside the others. Unset or 0: no cap (vLLM's default; vllm/config/scheduler.py, honoured by the V1 scheduler).",
      ),
    enforceEager: bool().optional().describe("--enforce-eager: no CUDA graphs, so every step pays a kernel-launch overhead per layer. Unset: vLLM's default, off."),
    speculative: z
      .strictObject({
        method: oneOf(SPECULATIVE_METHODS).describe(
          "--speculative-config method: 'mtp' (or its older name 'deepseek_mtp': the model's multi-token-prediction module, which the model's catalog record must have, run k times a step), 'eagle' / 'eagle3' (a draft head of the record's draftLayers, k times), 'ngram' (prompt lookup on the CPU: no GPU cost).",
        ),
        numSpeculativeTokens: wholeIn(1, LIMITS.speculativeTokens.max, LIMITS.speculativeTokens.why).describe(
          'num_speculative_tokens k: each decode step verifies k draft tokens plus one in one forward pass of the target, so each decoding sequence takes k + 1 tokens of the step budget and KV slots for them (vLLM reserves k lookahead slots).',
        ),
        acceptanceRate: z
          .number({ error: 'expected a number > 0 and < 1' })
          .gt(0, { error: 'expected a number > 0 and < 1' })
          .lt(1, { error: 'expected a number > 0 and < 1' })
          .optional()
          .describe(
            "The chance a draft token is accepted given the drafts before it were: a step emits 1 + the leading accepted drafts, (1 - a^(k+1)) / (1 - a) tokens on average, drawn from the run's seeded stream. Unset (and no acceptanceByPosition): the model record's sourced figures for the method (models/llm/ speculative.<method>: DeepSeek-V3/R1 MTP 0.85, Llama-3.1-8B EAGLE-3 by position); an error where it has none.",
          ),
        acceptanceByPosition: z
          .array(
            z
              .number({ error: 'expected a number > 0 and < 1' })
              .gt(0, { error: 'expected a number > 0 and < 1' })
              .lt(1, { error: 'expected a number > 0 and < 1' }),
            { error: 'expected a list of rates, one a draft position' },
          )
          .min(1, { error: 'expected at least one rate' })
          .max(LIMITS.speculativeTokens.max, { error: `expected at most ${LIMITS.speculativeTokens.max} rates (${LIMITS.speculativeTokens.why})` })
          .optional()
          .describe(
            "Measured acceptance per draft position as vLLM reports it ('acceptance at token i' of examples/offline_inference/spec_decode.py; vllm:spec_decode_num_accepted_tokens_per_pos / num_drafts): the share of steps whose draft i was accepted. Non-increasing, at least numSpeculativeTokens of them; draft i is then accepted given the ones before with p_i / p_(i-1), and a step emits 1 + p_0 + ... + p_(k-1) tokens on average (vLLM's mean acceptance length). Instead of acceptanceRate.",
          ),
      })
      .superRefine((sp, ctx) => {
        if (sp.acceptanceRate !== undefined && sp.acceptanceByPosition !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['acceptanceByPosition'], message: 'give acceptanceRate or acceptanceByPosition, not both' });
        }
      })
      .nullable()
      .optional()
      .describe(
        "Speculative decoding (vLLM --speculative-config), on every worker: decode steps verify k drafts per sequence (matmul and attention work x (k + 1), weights and KV read once) plus the draft passes (MTP / EAGLE: a step of the draft's layers, priced by the same roofline, once over the step's tokens and k - 1 times more), and emit the accepted tokens together. Unset or null: off (null lets a sweep compare off with on).",
      ),
    kvOffload: z
      .strictObject({
        hostBytes: whole(0).describe(
          "Bytes of host memory a worker keeps KV blocks in (Dynamo KVBM's DYN_KVBM_CPU_CACHE_GB x 1e9, LMCache's max_local_cpu_size). 0: no tier, but summary.json still reports the prefix-cache hits (a baseline to compare a tier against).",
        ),
        disk: z
          .strictObject({
            bytes: whole(0).describe("Bytes of local disk (NVMe) a worker keeps KV blocks in (KVBM's DYN_KVBM_DISK_CACHE_GB x 1e9)."),
            readBytesPerS: positive().describe(
              "The worker's share of its node's disk read bandwidth, bytes/s: a disk hit is read straight to the GPU over NIXL (KVBM's GDS_MT or POSIX backend). A PCIe Gen4 x4 NVMe drive reads ~7 GB/s (LMCache docs, GDS backend); a node's drives divided by its workers.",
            ),
            writeBytesPerS: positive().describe("The worker's share of its node's disk write bandwidth, bytes/s (blocks copied from host memory to disk)."),
            filter: bool()
              .default(true)
              .describe(
                "KVBM's disk offload filter (on unless DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER; Dynamo v1's FrequencyFilter): each block stored on the host is offered to disk, its count 1 at the first offer and doubled at each later one, and goes there once the count reaches 2, that is, when it reaches the host a second time before its count decays (every 600 s all counts drop by 1; block_manager.rs builds it with threshold 2, 600 s, 1,000,000 entries). false: every block stored on the host goes on to disk (KVBM v2's default G2 -> G3 policy, PR #8826). With no host tier (hostBytes 0) blocks go to disk unfiltered.",
              ),
          })
          .optional()
          .describe(
            "A local-disk KV tier below the host tier (Dynamo KVBM's G3): blocks copied from host memory to disk once on the host, LRU, and a prompt whose blocks after its GPU- and host-cached prefix are on disk reads them disk-to-GPU before it runs (KVBM onboards G3 hits straight to the device). With hostBytes 0 it is KVBM's bypass mode (DYN_KVBM_DISK_CACHE_GB without DYN_KVBM_CPU_CACHE_GB, PR #3510; GDS_MT in v2, PR #8938): every computed prompt block is written from the GPU straight to disk. summary.json's prefixCache then adds diskHitBlocks, diskHitRate and the disk tier's counts.",
          ),
        object: z
          .strictObject({
            readBytesPerS: positive().describe(
              "The store's read bandwidth, bytes/s, shared by every worker of the deployment (one bucket). State your store's: NIXL's OBJ backend measured 10.06 GB/s from a Cloudian HyperStore cluster with the CRT client's default throughput target and 18.13 GB/s at 150 Gb/s (ai-dynamo/nixl PR #1769); Dynamo's KVBM mocker assumes 4 GB/s.",
            ),
            writeBytesPerS: positive().describe("The store's write bandwidth, bytes/s, shared by every worker."),
            requestLatencyS: nonNegative().describe(
              "One S3 request's round trip, seconds (HEAD, GET, PUT). kvbm-engine's tier table puts G4 at ~100 ms; AWS states single-digit milliseconds to first byte for S3 Express One Zone in the compute's zone, up to 10x faster than S3 Standard (Amazon S3 User Guide, Optimizing S3 Express One Zone performance). Every lookup that reaches the store pays ceil(blocks / maxConcurrentRequests) of these before the request runs, hit or miss (one HEAD a block, S3ObjectBlockClient.has_blocks); reads and writes as many, or their bytes at the store's bandwidth if longer.",
            ),
            maxConcurrentRequests: whole(1)
              .default(16)
              .describe("Requests a worker rank's S3 client keeps in flight (kvbm-config S3ObjectConfig.max_concurrent_requests, default 16)."),
          })
          .nullable()
          .optional()
          .describe(
            "An S3-compatible object store below the host tier (Dynamo KVBM's G4, DYN_KVBM_OBJECT_*): one bucket shared by the deployment's workers of the same TP, unbounded, nothing evicted. Every block the host tier stores is written on to it (those it lacks); a prompt's blocks left after the GPU, host and disk tiers are checked there (one HEAD a block) and the request waits for the check; the hits are read into host memory and copied to the GPU (G4 -> G2 -> G1). Dynamo's KV router does not see it. Needs hostBytes > 0. summary.json's prefixCache then adds objectHitBlocks, objectHitRate and the store's counts. Unset or null: none (null lets a sweep compare without and with).",
          ),
      })
      .superRefine((o, ctx) => {
        if (o.object != null && o.hostBytes === 0) {
          ctx.addIssue({ code: 'custom', path: ['object'], message: 'needs hostBytes > 0: KVBM writes object-store blocks from host memory and reads them back through it' });
        }
      })
      .optional()
      .describe(
        "A host-memory KV tier below each worker's GPU prefix cache (Dynamo KVBM's G2, LMCache's CPU backend, vLLM's OffloadingConnector): every computed full prompt block is written through to host memory over the GPU's host link (the GPU record's hostLink) beside the forward passes, kept least recently used first, and a prompt whose next blocks after its GPU-cached prefix are on the host loads them back over the link instead of recomputing them. Needs prefix caching and block hashes (a Mooncake trace, or workload.prefixPrompts or sessions). summary.json then has prefixCache: blocks hit in the GPU, on the host, and missed. Unset: no tier.",
      ),
  })
  .prefault({})
  .describe("vLLM engine arguments; the defaults are vLLM's own (`vllm serve`, V1 engine).");

const expiry = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({
      kind: z.literal('abort-timeout').describe('VLLM_NIXL_ABORT_REQUEST_TIMEOUT: prefill releases KV blocks no decode worker read in time.'),
      timeoutS: numberIn(LIMITS.seconds.min, LIMITS.seconds.max, LIMITS.seconds.why).describe('Seconds before prefill releases unread KV blocks.'),
    }),
    z
      .strictObject({
        kind: z.literal('lease').describe('Lease-based expiry: decode heartbeats keep the blocks.'),
        leaseS: numberIn(LIMITS.seconds.min, LIMITS.seconds.max, LIMITS.seconds.why).describe('Lease length in seconds.'),
        heartbeatS: numberIn(LIMITS.seconds.min, LIMITS.seconds.max, LIMITS.seconds.why).describe('Seconds between heartbeats; must be < leaseS.'),
        extendS: numberIn(LIMITS.seconds.min, LIMITS.seconds.max, LIMITS.seconds.why).describe('Seconds a heartbeat extends the lease by.'),
      })
      .superRefine((e, ctx) => {
        if (e.heartbeatS >= e.leaseS) {
          ctx.addIssue({ code: 'custom', path: ['heartbeatS'], message: `heartbeatS (${e.heartbeatS}) must be < leaseS (${e.leaseS}): a lease must see a heartbeat before it lapses` });
        }
      }),
  ],
  { error: "expected kind 'abort-timeout' (with timeoutS) or 'lease' (with leaseS, heartbeatS, extendS)" },
).describe("Overrides the connector profile's expiry of KV blocks prefill holds for decode.");

/**
 * Fields of the connector profile an experiment may override (the profile's error texts stay the build's own).
 * Expiry has its own key, deployment.expiry.
 */
const connectorOverrides = z
  .strictObject({
    tp: z
      .strictObject({
        decodeWider: oneOf(['ok', 'rejected'] as const).optional().describe('What the build does when decode TP > prefill TP.'),
        prefillWider: oneOf(['ok', 'rejected', 'crash'] as const).optional().describe('What the build does when prefill TP > decode TP.'),
      })
      .optional()
      .describe('Which TP pairs the build accepts.'),
    blockSize: z
      .strictObject({
        rule: oneOf(['equal-only', 'decode-multiple'] as const).optional().describe('Block sizes the build accepts between prefill and decode.'),
        equalWhenPrefillWider: bool().optional().describe('Block sizes must be equal when prefill TP > decode TP.'),
      })
      .optional(),
    handshake: z
      .strictObject({
        timeoutS: positive().nullable().optional().describe('Handshake timeout in seconds; null: wait for ever.'),
        onFailure: oneOf(['engine-dead', 'fail-requests'] as const).optional().describe('What a failed handshake does.'),
        prepPerDescriptorS: nonNegative()
          .optional()
          .describe("Seconds add_remote_agent spends a remote descriptor when a decode rank registers a prefill engine (the profile's: 0.225 us for Python-loop builds, vllm-project/vllm#48209; ~0.032 us with its NumPy fix)."),
      })
      .optional(),
    kvLoadFailurePolicy: oneOf(['fail', 'recompute'] as const)
      .nullable()
      .optional()
      .describe('kv_load_failure_policy; null: the build has no such option.'),
  })
  .describe("Overrides of the connector profile's behaviour (`nixlsim list connectors`).");

const deployment = z
  .strictObject({
    mode: oneOf(MODES).describe('disaggregated: prefill and decode groups, KV moved over the transport; aggregated: the aggregated group alone.'),
    model: catalogId().describe('An LLM id from `nixlsim list models`.'),
    /** Defaults to the node's GPU (experiment/check.ts); naming another is an error unless it is a calibration of it. */
    gpu: catalogId().optional().describe("A GPU id from `nixlsim list gpus`. Default: the node's GPU; another must be a calibration of it (`nixlsim calibrate`)."),
    node: catalogId().describe('A node id from `nixlsim list nodes`.'),
    /** One of connector and vllm is required (experiment/check.ts); both given, they must name the same profile. */
    connector: catalogId().optional().describe("A vLLM build's NixlConnector behaviour, from `nixlsim list connectors`. Or give vllm."),
    vllm: z
      .string({ error: 'expected a vLLM release version in quotes, e.g. "0.10.1"' })
      .optional()
      .describe('A vLLM release (e.g. "0.10.1") instead of connector: its profile from the release table of `nixlsim list connectors`.'),
    transport: catalogId().describe('A transport id from `nixlsim list transports`; in disaggregated mode the node must offer it.'),
    prefill: workerGroup('Prefill workers (disaggregated mode).'),
    decode: workerGroup('Decode workers (disaggregated mode).'),
    aggregated: workerGroup('Workers that prefill and decode (aggregated mode).'),
    placement: oneOf(PLACEMENTS).default('cross-node').describe('Where prefill and decode workers sit relative to each other.'),
    router: oneOf(ROUTERS)
      .default('round-robin')
      .describe(
        "Dynamo's router mode (dynamo.frontend --router-mode, Dynamo v1.0.0): round-robin, random (uniform over the live workers), kv-aware (--router-mode kv: the lowest cost, as routerConfig describes), or least-loaded (this model's: the fewest requests queued or running; not a v1.0.0 mode).",
      ),
    routerConfig: routerConfig.optional(),
    conditionalDisagg: z
      .strictObject({
        maxLocalPrefillLength: whole(0)
          .default(1000)
          .describe("Prompt tokens left to compute (the prompt less the decode worker's cached prefix) up to which the decode worker prefills the request itself (Dynamo's DisaggregatedRouter max_local_prefill_length, default 1000)."),
        maxPrefillQueueSize: whole(0)
          .nullable()
          .default(2)
          .describe("Requests waiting for a prefill worker from which new ones prefill on the decode worker instead (max_prefill_queue_size, default 2); null: no limit."),
      })
      .optional()
      .describe(
        "Conditional disaggregation (disaggregated mode): the decode worker is picked first, and a request whose prompt less that worker's cached prefix is at most maxLocalPrefillLength tokens, or that finds maxPrefillQueueSize requests already waiting for prefill workers, is prefilled on the decode worker with no KV transfer; the rest go to a prefill worker as usual. Dynamo's DisaggregatedRouter of its v0.x vLLM workers (prefill_remote: prefill_length x (1 - prefix_hit_rate) > max_local_prefill_length and queue_size < max_prefill_queue_size) and TensorRT-LLM's disaggregated server (conditional_disagg_config.max_local_prefill_length); Dynamo v1's frontend always prefills remotely. Unset: every request is prefilled remotely. summary.json then has conditionalDisagg: the prefills done locally and remotely.",
      ),
    engine,
    bandwidth: oneOf(BANDWIDTHS).default('typical').describe('Which per-rail bandwidth of the transport to use.'),
    failurePolicy: oneOf(FAILURE_POLICIES)
      .default('fallback')
      .describe('What a failed KV transfer does: prefill locally on the decode worker (fallback), fail the request, or retry the transfer.'),
    /** Unset: 0, or DEFAULT_RETRIES under the retry policy (resolved in experiment/load.ts, where the policy is known). */
    maxRetries: whole(0).optional().describe(`Retries before the policy gives up. Default: 0, or ${DEFAULT_RETRIES} when failurePolicy is retry.`),
    expiry: expiry.optional(),
    connectorOverrides: connectorOverrides.optional(),
    prewarmed: bool()
      .optional()
      .describe(
        "true: every decode worker starts registered with every prefill worker the handshake accepts (the NIXL handshake and add_remote_agent's descriptor preparation done), as in a deployment that served requests before the measured run; a worker that joins or restarts later still handshakes. false or unset: each decode worker handshakes with a prefill worker at its first request to it (vLLM's on-demand handshake), and the requests waiting on it pay the side channel's round trips and the descriptor preparation (seconds for a large KV pool).",
      ),
    /** Unset: the serving layer's default (the abort timeout); null: wait for ever. */
    kvLoadTimeoutS: positive()
      .nullable()
      .optional()
      .describe('How long decode waits for a request\'s KV before the failure policy applies. Unset: the abort timeout (none for lease builds); null: for ever (late reads are stale).'),
  })
  .describe('What is deployed: model, hardware, transport, vLLM settings.');

const lengthDist = (what: string) =>
  z
    .strictObject({
      mean: whole(1).optional().describe("Mean length in tokens; required unless workload.kind is 'trace'."),
      stddev: nonNegative().default(0).describe('Standard deviation in tokens.'),
    })
    .describe(what);

const trace = z
  .strictObject({
    format: oneOf(TRACE_FORMATS).describe('The trace file format.'),
    path: pathText().describe("The trace file, relative to the experiment file's directory."),
    speedup: numberIn(LIMITS.speedup.min, LIMITS.speedup.max, LIMITS.speedup.why).default(1).describe('Replay this many times faster than recorded.'),
    limit: whole(1).optional().describe('Use only the first N records.'),
  })
  .describe("The trace to replay; required when workload.kind is 'trace'.");

/** workload.prefixPrompts: genai-perf's --num-prefix-prompts and --prefix-prompt-length. */
const prefixPrompts = z
  .strictObject({
    count: wholeIn(1, LIMITS.prefixPrompts.max, LIMITS.prefixPrompts.why).default(1).describe('How many distinct prefix prompts there are (genai-perf --num-prefix-prompts); each conversation picks one, uniformly at random.'),
    tokens: wholeIn(1, LIMITS.prefixTokens.max, LIMITS.prefixTokens.why).describe('Tokens in each prefix prompt (genai-perf --prefix-prompt-length).'),
  })
  .describe(
    "A shared system prompt: every prompt starts with one of `count` prefix prompts of `tokens` tokens, before its own isl tokens (genai-perf's --num-prefix-prompts / --prefix-prompt-length, which prepend a prompt from a pool to each request). Requests with the same prefix prompt share its full KV blocks in a worker's prefix cache. The shared share of a prompt is tokens / (tokens + isl).",
  );

/** workload.sessions: genai-perf's session mode (--session-turns-mean/stddev, --session-turn-delay-mean/stddev). */
const sessions = z
  .strictObject({
    turns: z
      .strictObject({
        mean: wholeIn(1, LIMITS.turns.max, LIMITS.turns.why).describe('Mean turns per conversation (genai-perf --session-turns-mean).'),
        stddev: nonNegative().default(0).describe('Standard deviation of the turns (genai-perf --session-turns-stddev); drawn normal, at least 1.'),
      }, { error: 'expected { mean, stddev } (turns per conversation)' })
      .describe('Turns (requests) per conversation.'),
    delayS: z
      .strictObject({
        mean: nonNegative().default(0).describe("Mean seconds from a turn's last token to the next turn's request (genai-perf --session-turn-delay-mean, there in ms)."),
        stddev: nonNegative().default(0).describe('Standard deviation of the delay, seconds (genai-perf --session-turn-delay-stddev); drawn normal, at least 0.'),
      }, { error: 'expected { mean, stddev } (seconds between turns)' })
      .default({ mean: 0, stddev: 0 })
      .describe("The user's think time between turns."),
  })
  .describe(
    "Multi-turn conversations: each conversation sends its turns one after another, each once the previous one has ended and the delay has passed. Turn k's prompt is the prefix prompt (if any), every earlier turn's prompt tokens and answer, then its own isl tokens, so the context grows and the earlier turns' KV blocks are a prefix a worker may still cache (AIPerf's 'deltas without responses' context mode: the live answers are carried into the next turn). A conversation ends early when a turn fails or its next turn would not fit the model's context. closed-loop: concurrency is the conversations in flight, each followed by a new one when it ends; poisson: the rate is of new conversations. workload.requests and warmup count turns.",
  );

const rateValue = () => numberIn(LIMITS.rate.min, LIMITS.rate.max, LIMITS.rate.why);

/** workload.rate: a constant, or a rate that changes with time (src/workload/rate.ts draws it by thinning). */
const rateSpec = z
  .union(
    [
      rateValue(),
      z.strictObject({
        steps: z
          .array(
            z.strictObject({
              atS: nonNegative().describe('When this rate starts, seconds from the start of the run (the first step at 0).'),
              rate: z
                .number({ error: `expected a number from 0 to ${LIMITS.rate.max} (${LIMITS.rate.why})` })
                .min(0, { error: `expected a number from 0 to ${LIMITS.rate.max} (${LIMITS.rate.why})` })
                .max(LIMITS.rate.max, { error: `expected a number from 0 to ${LIMITS.rate.max} (${LIMITS.rate.why})` })
                .describe('Requests per second from atS until the next step (the last one for good); 0: none.'),
            }),
            { error: 'expected a list of { atS, rate } steps' },
          )
          .min(1, { error: 'expected at least one { atS, rate } step' })
          .describe('Piecewise-constant rate: each step holds from its atS to the next one.')
          .superRefine((steps, ctx) => {
            if (steps[0] !== undefined && steps[0].atS !== 0) ctx.addIssue({ code: 'custom', path: [0, 'atS'], message: `the first step must start at 0 s, got ${steps[0].atS}` });
            for (let i = 1; i < steps.length; i++) {
              if (!(steps[i]!.atS > steps[i - 1]!.atS)) {
                ctx.addIssue({ code: 'custom', path: [i, 'atS'], message: `steps must start in increasing order: ${steps[i]!.atS} s does not come after ${steps[i - 1]!.atS} s` });
              }
            }
            if (steps.length > 0 && !steps.some((s) => s.rate > 0)) ctx.addIssue({ code: 'custom', path: [], message: 'at least one step must have a rate > 0' });
          }),
      }),
      z.strictObject({
        diurnal: z
          .strictObject({
            meanRate: rateValue().describe('The mean rate over a period, requests per second.'),
            peakToTrough: z
              .number({ error: 'expected a number from 1 to 1000 (the peak rate over the trough rate)' })
              .min(1, { error: 'expected a number from 1 to 1000 (the peak rate over the trough rate)' })
              .max(1000, { error: 'expected a number from 1 to 1000 (the peak rate over the trough rate)' })
              .describe('The peak rate over the trough rate (1: constant). rate(t) = meanRate (1 + a cos(2 pi (t - peakAtS) / periodS)), a = (r - 1) / (r + 1).'),
            periodS: numberIn(LIMITS.seconds.min, LIMITS.seconds.max, LIMITS.seconds.why).default(86400).describe('The length of a cycle, seconds (86400: a day; less compresses it).'),
            peakAtS: nonNegative().default(0).describe('When the rate peaks, seconds from the start.'),
          })
          .describe('A daily (or compressed) cycle of load: a cosine between trough and peak around a mean.'),
      }),
    ],
    { error: `expected a number of requests per second, { steps: [{ atS, rate }, ...] } or { diurnal: { meanRate, peakToTrough, periodS, peakAtS } }` },
  )
  .describe('poisson: requests per second, a constant or a function of time (steps, or a diurnal cycle): arrivals are then a non-homogeneous Poisson process, drawn by thinning.');

const workload = z
  .strictObject({
    kind: oneOf(WORKLOAD_KINDS).describe('closed-loop: a fixed number of requests in flight; poisson: arrivals at a rate; trace: replay a trace file.'),
    concurrency: wholeIn(1, LIMITS.concurrency.max, LIMITS.concurrency.why).default(1).describe('closed-loop: requests in flight at once (genai-perf --concurrency).'),
    /** Unset: DEFAULT_REQUESTS, or 0 (every record) for a trace. */
    requests: wholeIn(0, LIMITS.requests.max, LIMITS.requests.why).optional().describe(`Requests measured. Default: ${DEFAULT_REQUESTS}; for a trace, 0 = every record (its default).`),
    warmup: wholeIn(0, LIMITS.requests.max, LIMITS.requests.why).default(0).describe('Requests sent first and left out of the metrics (genai-perf --warmup-request-count).'),
    rate: rateSpec.default(1),
    isl: lengthDist('Input (prompt) length in tokens.').optional(),
    osl: lengthDist('Output length in tokens.').optional(),
    trace: trace.optional(),
    prefixPrompts: prefixPrompts.optional(),
    sessions: sessions.optional(),
  })
  .describe('The requests sent.')
  .superRefine((w, ctx) => {
    if (w.kind === 'trace') {
      if (w.trace === undefined) ctx.addIssue({ code: 'custom', path: ['trace'], message: "missing; expected { format, path } when workload.kind is 'trace'" });
      // A trace's prompts are its own (a Mooncake trace brings its block hashes): nothing is prepended or chained.
      for (const key of ['prefixPrompts', 'sessions'] as const) {
        if (w[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `not for a trace (its prompts are its own); for closed-loop and poisson workloads` });
      }
      return;
    }
    for (const key of ['isl', 'osl'] as const) {
      if (w[key]?.mean === undefined) {
        ctx.addIssue({ code: 'custom', path: [key, 'mean'], message: `missing; expected a whole number >= 1 (required unless workload.kind is 'trace')` });
      }
    }
    if (w.requests === 0) {
      ctx.addIssue({ code: 'custom', path: ['requests'], message: "expected a whole number >= 1 (0, meaning every record, is for traces), got 0" });
    }
  });

/** The rules FaultInjector's validate() (src/faults/injector.ts) enforces, here so that a bad fault has a position. */
const arrivals = {
  rate: z
    .number({ error: `expected a number from 0 to ${LIMITS.faultRate.max} (${LIMITS.faultRate.why})` })
    .min(0, { error: `expected a number from 0 to ${LIMITS.faultRate.max} (${LIMITS.faultRate.why})` })
    .max(LIMITS.faultRate.max, { error: `expected a number from 0 to ${LIMITS.faultRate.max} (${LIMITS.faultRate.why})` })
    .optional()
    .describe('Poisson arrivals per simulated second.'),
  at: z.array(nonNegative(), { error: 'expected a list of times in seconds' }).optional().describe('Times in simulated seconds.'),
};
const target = text().describe('A worker (prefill-0, decode-1, agg-0) or a link (decode-0.rank0.nic, prefill-0.host).');
const chance = () => probability().optional().describe('A chance at each opportunity (e.g. each KV read), 0 to 1.');
const fault = z
  .discriminatedUnion(
    'kind',
    [
      z.strictObject({
        kind: z.literal('connection_reset').describe('A connection resets (a KV read; with a worker as target, its response streams). Needs rate, probability or at.'),
        ...arrivals,
        probability: chance(),
        target: target.optional(),
      }),
      z.strictObject({
        kind: z.literal('health_503').describe('A health check answers 503. Needs rate, probability or at.'),
        ...arrivals,
        probability: chance(),
        target: target.optional(),
      }),
      z.strictObject({
        kind: z.literal('link_down').describe('A link goes down for durationS. Needs rate or at, and a link as target.'),
        ...arrivals,
        durationS: nonNegative().describe('Seconds the link stays down.'),
        target,
      }),
      z.strictObject({
        kind: z.literal('worker_restart').describe('A worker dies, stays down for downtimeS, and comes back empty. Needs rate or at, and a worker as target.'),
        ...arrivals,
        downtimeS: nonNegative().describe('Seconds the worker is down.'),
        target,
      }),
    ],
    { error: `expected kind ${FAULT_KINDS.map((k) => `'${k}'`).join(', ')}` },
  )
  .superRefine((f, ctx) => {
    const p = 'probability' in f ? f.probability : undefined;
    if (f.rate === undefined && f.at === undefined && p === undefined) {
      const how = f.kind === 'link_down' || f.kind === 'worker_restart' ? 'rate or at' : 'rate, probability or at';
      ctx.addIssue({ code: 'custom', path: ['kind'], message: `a ${f.kind} fault needs at least one of ${how}` });
    }
  });

/**
 * Dynamo's planner (components/src/dynamo/planner), its load-based "easy mode": optimization_target throughput (the
 * default) or latency, which scale on static thresholds of each engine's queue and KV cache (core/load_scaling.py,
 * ai-dynamo/dynamo commit 0c6da1ec; the targets as Planner Guide v1.0.2 documents them), with the defaults of
 * config/defaults.py (commit 1ca60155). src/serving/autoscale.ts runs it.
 */
const autoscale = z
  .strictObject({
    target: oneOf(['throughput', 'latency', 'sla', 'off'] as const)
      .default('throughput')
      .describe(
        "Dynamo planner's optimization_target (default throughput). Every interval, for each role: prefill scales up by one when any engine's queued prefill tokens reach the model's context length (throughput: 1.0x; latency: 0.1x) and down by one when all are below 0.1x (latency: all queues empty); decode scales up when any engine's KV utilisation (scheduled + queued KV tokens over the pool's tokens) is over 1.0 (latency: 0.4) and down when all are below 0.6 (latency: 0.1); an aggregated worker's utilisation also counts its queued prefill tokens. 'sla' (disaggregated only): the throughput-based planner, which every interval sets each role's replicas from the requests, ISL and OSL of the last interval (the constant predictor) and the engine's own profile (a lone prompt's prefill; the largest decode batch within slo.itlMs at context ISL + OSL/2), corrected by the TTFT and ITL it saw (Dynamo's Planner Design doc; Dynamo's own default interval for it is longer than the load-based 5 s, so set intervalS). 'off': no planner, the fleet stays as deployed (for a fixed-fleet baseline with the same GPU-hours and SLO numbers).",
      ),
    intervalS: numberIn(0, LIMITS.seconds.max, LIMITS.seconds.why)
      .default(5)
      .describe("load_adjustment_interval: seconds between scaling decisions (Dynamo's default 5)."),
    samples: wholeIn(1, 1000, 'metric samples an interval')
      .default(10)
      .describe("load_metric_samples: the engine metrics are sampled this many times an interval and averaged per engine (Dynamo's default 10)."),
    minWorkers: wholeIn(1, LIMITS.workers.max, LIMITS.workers.why)
      .default(1)
      .describe("min_endpoint: the fewest workers of each role (Dynamo's default 1)."),
    maxGpuBudget: wholeIn(1, 1_000_000, 'GPUs')
      .default(8)
      .describe("max_gpu_budget: the most GPUs the workers of every role may hold together, provisioning ones included (Dynamo's default 8); a scale-up past it is not made."),
    maxWorkers: z
      .strictObject({
        prefill: wholeIn(1, LIMITS.workers.max, LIMITS.workers.why).optional(),
        decode: wholeIn(1, LIMITS.workers.max, LIMITS.workers.why).optional(),
        aggregated: wholeIn(1, LIMITS.workers.max, LIMITS.workers.why).optional(),
      })
      .optional()
      .describe("The most workers of a role (ours; Dynamo bounds them by max_gpu_budget alone). Unset: the budget's."),
    provisionS: nonNegative()
      .default(120)
      .describe(
        "Seconds from a scale-up decision until the new worker takes requests, its GPUs counted from the decision: pod start, weight loading, torch.compile, KV cache profiling and CUDA graph capture, NIXL memory registration. Measured: 1-2 minutes to scale up a vLLM replica of a 7B model on AWS G5 (ray-project/ray-llm#99); 277 s for a 22 GiB model cold (vllm-project/vllm#44881: container 16 s, weights 18 s, torch.compile 43 s, KV profiling and warm-up 210 s); ~19 s of process start before the device is touched for a 1.5B model (vllm-project/vllm#15225). Default 120 s. The NIXL handshake is not in it: a new decode worker handshakes with each prefill worker at its first read, as any does.",
      ),
    slo: z
      .strictObject({
        ttftMs: positive().default(500).describe("TTFT target, ms (Dynamo planner's ttft default, 500)."),
        itlMs: positive().default(50).describe("ITL target, ms (Dynamo planner's itl default, 50)."),
      })
      .prefault({})
      .describe("The SLO that attainment is counted against: the share of measured requests that completed within both (the easy-mode planner does not read it, as Dynamo's does not)."),
    predictor: oneOf(['constant', 'kalman'] as const)
      .default('constant')
      .describe(
        "load_predictor of the 'sla' target: how the next interval's requests, ISL and OSL are forecast from those seen. 'constant': the last interval's. 'kalman': Dynamo's KalmanPredictor, a local-linear-trend Kalman filter (level and trend) tuned by `kalman`. Dynamo's own default is 'arima' (pmdarima's auto_arima), which is not modelled, nor is 'prophet'.",
      ),
    predictorLog1p: bool()
      .default(false)
      .describe("load_predictor_log1p: the kalman predictor works on log(1 + x) of each series and forecasts back through exp(x) - 1 (Dynamo's default false)."),
    kalman: z
      .strictObject({
        qLevel: positive().default(1).describe("kalman_q_level: variance of the level's noise an interval (Dynamo's default 1.0; higher follows level changes faster)."),
        qTrend: positive().default(0.1).describe("kalman_q_trend: variance of the trend's noise an interval (Dynamo's default 0.1)."),
        r: positive().default(10).describe("kalman_r: variance of a measurement's noise (Dynamo's default 10.0; lower trusts new measurements more)."),
        minPoints: wholeIn(1, 1000, 'intervals').default(5).describe("kalman_min_points: intervals seen before the filter forecasts; until then the last value stands in (Dynamo's default 5)."),
      })
      .prefault({})
      .describe("The kalman predictor's settings (Dynamo PlannerConfig's defaults)."),
    seriesS: numberIn(0, LIMITS.seconds.max, LIMITS.seconds.why)
      .default(60)
      .describe('Seconds per point of the time series in summary.json (autoscale.series): a reporting choice, not a planner setting.'),
  })
  .describe("Autoscaling as Dynamo's planner does it: workers of each role added (after provisionS) and drained at run time. summary.json then has autoscale: GPU-hours, SLO attainment and a time series of rate, workers and TTFT p95.");

const nameSchema = z
  .string({ error: 'expected a name of letters, digits, dots, dashes and underscores' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: 'expected a name of letters, digits, dots, dashes and underscores (it names the report directory)' });

/** An experiment file: `extends`, `sweep` and `expect` are read on their own by experiment/load.ts. */
export const experimentFileSchema = z
  .strictObject({
    /** Defaults to the file name (experiment/load.ts). */
    name: nameSchema.optional().describe('Names reports/<name>/ and the baseline reports/baselines/<name>.json. Default: the file name without extension. Not inherited through extends.'),
    seed: whole(0).default(0).describe('Master seed: the same seed gives the same bytes in summary.json.'),
    deployment,
    workload,
    faults: z.array(fault, { error: 'expected a list of faults' }).default([]).describe('Faults to inject.'),
    autoscale: autoscale.optional(),
    horizonS: numberIn(0, LIMITS.horizonS.max, LIMITS.horizonS.why).default(86400).describe('The simulation stops here (seconds); requests still running count as in flight.'),
    /** Read on its own before the rest (experiment/load.ts); listed here so that `extend:` gets a did-you-mean. */
    extends: z.unknown().optional(),
    /** Checked on its own before points are built (experiment/load.ts); listed here so that `sweeps:` gets a did-you-mean. */
    sweep: z.unknown().optional(),
    /** Checked on its own once the points are known (experiment/load.ts, check.ts); listed here for the did-you-mean. */
    expect: z.unknown().optional(),
  })
  .describe('An experiment: a deployment, a workload, faults, and optionally a sweep and expectations (experiments/README.md).');
