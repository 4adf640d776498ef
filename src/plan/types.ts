/**
 * plan.json (printed by `nixlsim plan --json`). The contract: `recommended` (the recommended configuration's
 * deployment section plus maxRate and goodputPerGpu, or null when nothing meets the SLO), `ranked` (each with
 * deployment, maxRate, goodputPerGpu, ttftP95Ms, itlP95Ms) and `pruned` (each with deployment and reason). The rest
 * are extras.
 *
 * Units: rates in requests per second; goodput per GPU = maxRate / GPUs used, in requests per second per GPU (the
 * highest offered rate at which every SLO term holds and every request completes, shared over the GPUs that serve it).
 */
import type { Placement } from '../spec/catalog.js';
import type { ExperimentInput } from '../spec/experiment.js';
import type { TpChoice, WorkerShape } from './enumerate.js';
import type { Ceilings } from './estimate.js';
import type { PruneRule } from './prune.js';
import type { Probe } from './search.js';

type FileDeployment = NonNullable<ExperimentInput['deployment']>;
type FileGroup = NonNullable<FileDeployment['prefill']>;

/**
 * The experiment file's deployment section for a configuration (the groups its mode uses), in the file's own types:
 * every id resolved, each group's workers and TP given; prefill and decode carry node and gpu when they run on hardware
 * of their own (plan --prefill-gpu / --decode-gpu).
 */
export type DeploymentSection = Required<Pick<FileDeployment, 'mode' | 'model' | 'gpu' | 'node' | 'connector' | 'transport'>> &
  Pick<FileDeployment, 'placement' | 'prewarmed' | 'router' | 'routerConfig' | 'engine'> & {
    aggregated?: WorkerShape;
    prefill?: WorkerShape & Pick<FileGroup, 'node' | 'gpu'>;
    decode?: WorkerShape & Pick<FileGroup, 'node' | 'gpu'>;
  };

export interface RankedEntry {
  rank: number;
  id: string;
  label: string;
  deployment: DeploymentSection;
  gpusUsed: number;
  /** Highest rate probed that met the SLO, req/s; 0 when none did. */
  maxRate: number;
  goodputPerGpu: number;
  /** At maxRate (or, when no rate met the SLO, at the lowest rate probed). */
  ttftP95Ms: number;
  itlP95Ms: number;
  meetsSlo: boolean;
  /** Output tokens per second per GPU at maxRate. */
  outputTokensPerSPerGpu: number;
  /** Each role's GPUs x its GPU's --gpu-cost, USD per hour; null without --gpu-cost. */
  costPerHourUsd: number | null;
  /** costPerHourUsd over the output tokens an hour serves at maxRate, USD per million; null without a price or rate. */
  usdPerMillionOutputTokens: number | null;
  ttftP50Ms: number;
  /** Median KV transfer time at maxRate, ms (disaggregated). */
  kvTransferP50Ms: number | null;
  /** A mean-length request's KV transfer with nothing else on the wire, ms (physics estimate; disaggregated). */
  kvTransferAloneMs: number | null;
  /**
   * Physics estimates (not simulation) of the rate, req/s, the prefill side, the decode side and (disaggregated) the
   * KV transfers could each sustain, and of the configuration as a whole: the smallest for disaggregated; for
   * aggregated, prefill and decode share each worker, so 1 / (1 / prefill + 1 / decode).
   */
  ceilings: Ceilings;
  estimate: number;
  /**
   * What broke at the lowest failing rate: the SLO's limit on this configuration. `bound` names the broken terms
   * (`ttft_p95`, `itl_p95`, ...) and `completion` when requests failed or did not finish.
   */
  limit: { rate: number | null; violations: string[]; bound: string[] };
  /** The search stopped at its ceiling (met the SLO at every rate tried) or floor (at none). */
  searchLimit: 'ceiling' | 'floor' | null;
  /** True when no other configuration has both more goodput per GPU and a lower TTFT p95. */
  pareto: boolean;
  probes: Probe[];
}

export interface PrunedEntry {
  id: string;
  label: string;
  deployment: DeploymentSection;
  rule: PruneRule;
  reason: string;
}

export interface ModeBest {
  id: string;
  label: string;
  maxRate: number;
  goodputPerGpu: number;
}

export interface Verdict {
  aggregated: ModeBest | null;
  disaggregated: ModeBest | null;
  /** 'tie' when the two differ by less than the search's precision. */
  winner: 'aggregated' | 'disaggregated' | 'tie' | 'none';
  /**
   * How much more goodput per GPU the winner's best serves than the other mode's best, % (higher / lower - 1, x 100;
   * never negative; the figure the text prints). Null when a mode has nothing meeting the SLO.
   */
  marginPct: number | null;
  text: string;
}

export interface PlanInputs {
  model: string;
  gpu: string;
  node: string;
  transport: string;
  connector: string;
  gpus: number;
  placement: 'auto' | Placement;
  slo: string[];
  workload: {
    source: string;
    kind: 'poisson' | 'trace';
    islMean: number;
    oslMean: number;
    longest: { isl: number; osl: number };
    warmupPerProbe: number;
    /** Trace: its own rate, req/s at speed-up 1. */
    traceRate?: number;
    notes: string[];
  };
  /** How long each probe is: seconds of arrivals, and the measured requests that gives within [min, max]. */
  probe: { windowS: number; minRequests: number; maxRequests: number };
  seed: number;
  precision: number;
  /** Prefill or decode workers on hardware of their own (--prefill-gpu, --decode-gpu): their GPU and node. */
  roles?: Partial<Record<'prefill' | 'decode', { gpu: string; node: string }>>;
  /** --gpu-cost, USD per GPU-hour by GPU id (every GPU the plan uses); null without it. */
  gpuCostUsdPerHour: Record<string, number> | null;
}

export interface PlanJson {
  schemaVersion: 1;
  inputs: PlanInputs;
  recommended: (DeploymentSection & { maxRate: number; goodputPerGpu: number }) | null;
  verdict: Verdict;
  ranked: RankedEntry[];
  pruned: PrunedEntry[];
  tpSizes: TpChoice;
  /** A MoE model's DP/EP shapes (planner.ts, fittingDpEpShapes); absent for dense models and nodes without all-to-all kernels. */
  dpEpShapes?: { shapes: string[]; excluded: { shape: string; reason: string }[] };
}
