/**
 * A probe is one simulation: one configuration at one offered rate. Its Point is the planner's template experiment
 * (the loader's defaults for everything the planner does not choose) with the configuration's worker groups and
 * placement and the probe's rate filled in.
 *
 * Finished probes are kept in <out>/probes/<key>.json, the key a SHA-256 over everything the result depends on: the
 * point's experiment (deployment, workload, seed; a trace by its contents, not its path), the catalog records the
 * simulation reads, and nixlsim's version. A rerun with the same inputs finds every probe there and simulates nothing;
 * a run stopped half-way keeps the probes it finished.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getConnector, getGpu, getLlm, getNode, getTransport, sideChannelTransport } from '../catalog/index.js';
import { projectRoot } from '../catalog/load.js';
import type { Catalog, Placement } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import { canonicalJson } from '../spec/canonical.js';
import type { Experiment, Point, PointResult, WorkerGroup } from '../spec/experiment.js';
import { writeFileAtomic } from '../spec/output.js';
import { candidateId, type Candidate } from './enumerate.js';
import type { PlanWorkload } from './workload.js';

/** Bump when the meaning of a stored probe changes without nixlsim's version changing. */
export const PROBE_FORMAT = 1;
export const PROBES_DIR = 'probes';

/**
 * How long a probe is. A finite run hides an overload: at a rate a little above what the deployment sustains, the
 * queue grows by the excess, (rate - capacity) x the run's length in requests, and the latencies only show it once
 * that backlog is large. So a probe sends arrivals for a window of `windowS` seconds (the planner sets it to the
 * loosest TTFT or end-to-end bound divided by the search precision: an overload of that fraction then adds a whole
 * bound of queueing by the end of the run and fails the probe), and at least `minRequests` measured requests.
 */
export interface ProbeSizing {
  windowS: number;
  minRequests: number;
  /** Cap on measured requests (the run time of a probe grows with them). */
  maxRequests: number;
}

/** Most measured requests a probe sends, whatever its window asks. */
export const MAX_PROBE_REQUESTS = 20000;

/** Measured requests of a probe at `rate`: the window's worth, within [minRequests, maxRequests]. */
export function probeRequests(rate: number, s: ProbeSizing): number {
  return Math.min(s.maxRequests, Math.max(s.minRequests, Math.ceil(rate * s.windowS)));
}

/** The probe of configuration `c` at `rate` requests per second. */
export function probePoint(
  template: Experiment,
  c: Candidate,
  placement: Placement | undefined,
  rate: number,
  w: PlanWorkload,
  sizing: ProbeSizing,
  extras: Partial<Record<'prefill' | 'decode', Omit<WorkerGroup, 'workers' | 'tp'>>> = {},
): Point {
  const exp = structuredClone(template);
  const d = exp.deployment;
  d.mode = c.mode;
  if (c.mode === 'aggregated') {
    d.aggregated = { ...c.aggregated };
  } else {
    // Groups on hardware of their own carry its node, GPU and batch defaults, as the loader resolves them.
    d.prefill = { ...c.prefill, ...structuredClone(extras.prefill ?? {}) };
    d.decode = { ...c.decode, ...structuredClone(extras.decode ?? {}) };
    if (placement !== undefined) d.placement = placement;
  }
  if (w.trace) {
    // The records cap counts the warm-up too (src/workload/sources.ts); a trace has only so many records. The speed-up
    // makes exactly these records arrive at `rate`: n records over their span, (n - 1) / span x speed-up = rate.
    const n = w.warmup + Math.min(probeRequests(rate, sizing), w.trace.offsets.length - w.warmup);
    const span = w.trace.offsets[n - 1]!;
    if (!(span > 0)) throw new UserError(`--workload ${w.source}: its first ${n} records share one timestamp, so they have no rate to scale`);
    exp.workload.trace!.speedup = (rate * span) / (n - 1);
    exp.workload.requests = n;
  } else {
    exp.workload.rate = rate;
    exp.workload.requests = probeRequests(rate, sizing);
  }
  return { id: `${candidateId(c)}@${rate}`, params: { rate }, experiment: exp };
}

let version: string | undefined;
function nixlsimVersion(): string {
  version ??= (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}

/** The catalog records a simulation of this experiment reads (the side channel's latency comes from its transport record). */
export function recordsUsed(catalog: Catalog, exp: Experiment): unknown {
  const d = exp.deployment;
  return {
    llm: getLlm(catalog, d.model),
    gpu: getGpu(catalog, d.gpu),
    node: getNode(catalog, d.node),
    transport: getTransport(catalog, d.transport),
    connector: getConnector(catalog, d.connector),
    sideChannel: sideChannelTransport(catalog) ?? null,
  };
}

export function probeKey(point: Point, catalog: Catalog, w: PlanWorkload): string {
  const exp = structuredClone(point.experiment);
  if (exp.workload.trace && w.trace) exp.workload.trace.path = `sha256:${w.trace.sha256}`;
  const text = canonicalJson({ format: PROBE_FORMAT, nixlsim: nixlsimVersion(), experiment: exp, records: recordsUsed(catalog, point.experiment) });
  return createHash('sha256').update(text).digest('hex');
}

interface Stored {
  key: string;
  id: string;
  result: PointResult;
}

/** Finished probes in a directory, by key. `fresh` ignores what is there (and overwrites it). */
export class ProbeStore {
  constructor(
    readonly dir: string,
    private readonly fresh = false,
  ) {}

  private file(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  get(key: string): PointResult | undefined {
    if (this.fresh) return undefined;
    const file = this.file(key);
    if (!existsSync(file)) return undefined;
    try {
      const s = JSON.parse(readFileSync(file, 'utf8')) as Stored;
      // A file edited by hand or cut short is simulated again, not trusted.
      return s.key === key && s.result && typeof s.result === 'object' ? s.result : undefined;
    } catch {
      return undefined;
    }
  }

  put(key: string, point: Point, result: PointResult): void {
    const stored: Stored = { key, id: point.id, result };
    writeFileAtomic(this.dir, `${key}.json`, `${JSON.stringify(stored)}\n`);
  }
}
