/**
 * The traffic the planner sizes a deployment for, from --workload: an experiment file (its workload section; the
 * deployment in it is ignored, the planner chooses that) or a trace file (.csv: Azure LLM, .jsonl: Mooncake).
 *
 * A synthetic workload (closed-loop or poisson) is probed as Poisson arrivals at the probe's rate, with its length
 * distributions; a trace is replayed in order from its first record, sped up so that it arrives at the probe's rate
 * (its own rate is the records over the span of their timestamps). How many requests a probe sends is probe.ts's.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import type { Catalog, LlmSpec } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import { checkRegularFile } from '../input.js';
import { loadExperiment } from '../experiment/load.js';
import type { EngineArgs, TraceSource } from '../spec/experiment.js';
import { shownPath } from '../experiment/yaml-errors.js';
import { fitLengths } from '../workload/index.js';
import { TraceReader, type TraceFormat } from '../workload/traces.js';
import type { DeploymentSection } from './types.js';
import { getGpu } from '../catalog/index.js';

/** A length drawn from a normal distribution is taken to reach mean + 3 standard deviations (99.87% of draws). */
export const LONGEST_SIGMAS = 3;

export interface PlanWorkload {
  /** The file, as a user would recognise it. */
  source: string;
  kind: 'poisson' | 'trace';
  seed: number;
  /** Requests sent before the measured ones, at the same rate. */
  warmup: number;
  /** Fewest requests a probe measures (--requests); a probe measures more when its window needs them. */
  minRequests: number;
  /**
   * The experiment-file workload section of a probe, without what the probe's rate decides: `rate` and `requests`
   * (poisson), `trace.speedup` and `requests` (trace).
   */
  section: Record<string, unknown>;
  /**
   * Trace: its absolute path and format, its own rate (requests per second at speed-up 1 over the records read), each
   * record's offset from the first (seconds), and the file's SHA-256.
   */
  trace?: { path: string; format: TraceFormat; baseRate: number; sha256: string; offsets: number[] };
  islMean: number;
  oslMean: number;
  /** The longest request the deployment must hold, tokens. */
  longest: { isl: number; osl: number };
  /**
   * The file's own offered rate, req/s (what `plan --rate workload` sizes for): a Poisson workload's rate, a trace's
   * records over their span times the file's speed-up. Absent for closed-loop traffic, which has no rate.
   */
  ownRate?: number;
  /** What the planner changed or left out of the file, said in the report. */
  notes: string[];
  /**
   * The experiment file's router when it names one other than round-robin, or a routerConfig: every probe, the
   * recommended deployment and its launch.sh route as the file does (a trace alone has none).
   */
  routing?: Pick<DeploymentSection, 'router' | 'routerConfig'>;
  /**
   * The experiment file's engine arguments as loaded, and vLLM's batch defaults on its GPU (to tell a batch size the
   * file set from the one its GPU gave it): the planner keeps what the file changed (src/plan/planner.ts).
   */
  engine?: { args: EngineArgs; batchDefaults: { maxNumBatchedTokens: number; maxNumSeqs: number } };
}

export interface WorkloadOptions {
  catalog: Catalog;
  /** The model planned for: lengths must fit its context. */
  llm: LlmSpec;
  /** Fewest measured requests per probe. */
  requests: number;
  warmup: number;
  /** Most records a probe replays (a trace is read this far). */
  maxRecords: number;
  seed?: number;
  /** --set on an experiment file (to pin a swept workload path, or change one). */
  set?: string[];
}

const TRACE_FORMATS: Record<string, TraceFormat> = { '.csv': 'azure', '.jsonl': 'mooncake' };

/** Paths an experiment file may sweep without changing the workload (the planner sets the deployment itself). */
const IGNORED_SWEEPS = /^deployment(\.|$)/;

export function resolveWorkload(file: string, o: WorkloadOptions): PlanWorkload {
  const abs = resolve(file);
  const format = TRACE_FORMATS[extname(abs).toLowerCase()];
  if (format !== undefined) {
    checkRegularFile(abs, 'trace file');
    if (o.set?.length) throw new UserError(`--set changes an experiment file; --workload ${file} is a trace (${format})`);
    return fromTrace({ format, path: abs, speedup: 1 }, o, shownPath(abs), o.seed ?? 0, []);
  }
  const loaded = loadExperiment(file, { catalog: o.catalog, ...(o.set ? { set: o.set } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}) });
  const varying = loaded.dimensions.flat().filter((p) => !IGNORED_SWEEPS.test(p));
  if (varying.length > 0) {
    const p = varying[0]!;
    const values = loaded.sweep[p] ?? [];
    throw new UserError(
      `--workload ${file}: its sweep varies ${varying.join(', ')}; the planner needs one workload: pin it, e.g. --set ${p}=${JSON.stringify(values[values.length - 1])}`,
    );
  }
  const exp = loaded.experiment;
  const w = exp.workload;
  const notes: string[] = [];
  if (exp.faults.length > 0) notes.push(`the ${exp.faults.length} fault(s) in ${shownPath(loaded.file)} are left out: the planner sizes for fault-free serving`);
  const d = exp.deployment;
  const routing: PlanWorkload['routing'] =
    d.router !== 'round-robin' || d.routerConfig !== undefined ? { router: d.router, ...(d.routerConfig !== undefined ? { routerConfig: structuredClone(d.routerConfig) } : {}) } : undefined;
  if (routing) notes.push(`every deployment is routed as ${shownPath(loaded.file)} routes: ${d.router}${d.routerConfig !== undefined ? ' with its routerConfig' : ''}`);
  const engine: PlanWorkload['engine'] = { args: structuredClone(d.engine), batchDefaults: { ...getGpu(o.catalog, d.gpu).vllmBatchDefaults } };
  if (w.kind === 'trace') {
    if (w.trace === undefined) throw new UserError(`--workload ${file}: workload.kind is trace but no trace is given`);
    notes.push(`the trace's speed-up (${w.trace.speedup}) is replaced by the one each probe's rate needs`);
    return { ...fromTrace(w.trace, o, shownPath(loaded.file), exp.seed, notes), ...(routing ? { routing } : {}), engine };
  }
  if (w.sessions !== undefined || w.prefixPrompts !== undefined) {
    notes.push(`its ${[w.sessions ? 'multi-turn sessions' : '', w.prefixPrompts ? 'prefix prompts' : ''].filter(Boolean).join(' and ')} are left out: the planner sizes for single-turn requests of the same lengths`);
  }
  if (w.kind === 'closed-loop') {
    notes.push(`closed-loop traffic (concurrency ${w.concurrency}) is replaced by Poisson arrivals at each probe's rate, with the same lengths`);
  } else {
    notes.push(`the Poisson rate (${typeof w.rate === 'number' ? `${w.rate} req/s` : 'varying with time'}) is replaced by each probe's rate`);
  }
  const max = o.llm.maxContext;
  if (w.isl.mean + w.osl.mean > max) {
    throw new UserError(`--workload ${file}: isl.mean + osl.mean = ${w.isl.mean + w.osl.mean} tokens exceeds the ${max}-token context of '${o.llm.id}'`);
  }
  const far = fitLengths(Math.round(w.isl.mean + LONGEST_SIGMAS * w.isl.stddev), Math.round(w.osl.mean + LONGEST_SIGMAS * w.osl.stddev), max);
  return {
    source: shownPath(loaded.file),
    kind: 'poisson',
    seed: exp.seed,
    warmup: o.warmup,
    minRequests: o.requests,
    section: {
      kind: 'poisson',
      warmup: o.warmup,
      isl: { mean: w.isl.mean, stddev: w.isl.stddev },
      osl: { mean: w.osl.mean, stddev: w.osl.stddev },
    },
    islMean: w.isl.mean,
    oslMean: w.osl.mean,
    longest: { isl: far.isl, osl: far.osl },
    ...(w.kind === 'poisson' && typeof w.rate === 'number' ? { ownRate: w.rate } : {}),
    notes,
    ...(routing ? { routing } : {}),
    engine,
  };
}

/**
 * A trace's records, up to `maxRecords` (the most a probe replays): their own rate (records over the span of their
 * timestamps), their offsets (a probe replays those within its window), mean and longest lengths (fitted to the
 * context as the replay fits them), and the file's digest for the probe store.
 */
function fromTrace(t: TraceSource, o: WorkloadOptions, source: string, seed: number, notes: string[]): PlanWorkload {
  const want = Math.min(o.maxRecords, t.limit ?? Infinity);
  const reader = new TraceReader(t.format, t.path);
  const offsets: number[] = [];
  let isl = 0;
  let osl = 0;
  let longest = { isl: 0, osl: 0 };
  for (const r of reader) {
    const fit = fitLengths(r.isl, r.osl, o.llm.maxContext);
    offsets.push(r.offsetS);
    isl += fit.isl;
    osl += fit.osl;
    if (fit.isl + fit.osl > longest.isl + longest.osl) longest = { isl: fit.isl, osl: fit.osl };
    if (offsets.length >= want) break;
  }
  const n = offsets.length;
  if (n < o.requests + o.warmup) {
    throw new UserError(`--workload ${source}: ${n} records${t.limit !== undefined ? ` (limit ${t.limit})` : ''}, fewer than --requests ${o.requests} + --warmup ${o.warmup}`);
  }
  const first = offsets[0]!;
  const span = offsets[n - 1]! - first;
  // The shortest probe replays warmup + requests records: they need a span for a rate to scale (probe.ts).
  const fewest = o.warmup + o.requests;
  if (!(offsets[fewest - 1]! - first > 0)) {
    throw new UserError(`--workload ${source}: its first ${fewest} records (--warmup + --requests) share one timestamp, so they have no rate to scale`);
  }
  const sha256 = createHash('sha256').update(readFileSync(t.path)).digest('hex');
  return {
    source,
    kind: 'trace',
    seed,
    warmup: o.warmup,
    minRequests: o.requests,
    section: { kind: 'trace', warmup: o.warmup, trace: { format: t.format, path: t.path } },
    trace: { path: t.path, format: t.format, baseRate: (n - 1) / span, sha256, offsets: offsets.map((x) => x - first) },
    islMean: isl / n,
    oslMean: osl / n,
    longest,
    ownRate: ((n - 1) / span) * t.speedup,
    notes,
  };
}
