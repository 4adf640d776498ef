import { FieldError, type FieldPath } from '../errors.js';
import type { RandomStream } from '../engine/random.js';
import type { TraceSource, Workload } from '../spec/experiment.js';
import { checkLengthDist, checkMaxContext, drawLength, fitLengths } from './lengths.js';
import { MOONCAKE_BLOCK_TOKENS, TraceReader, type TraceRecord } from './traces.js';
import { nextArrival, rateProfile, type RateProfile } from './rate.js';
import type { RequestSource, RequestSpec } from './types.js';
import { ConversationSource } from './conversations.js';

export interface WorkloadRandom {
  /** Prompt and output lengths, isl then osl for each request. */
  lengths: RandomStream;
  /** Poisson inter-arrival gaps. */
  arrivals: RandomStream;
  /** Conversations: turns, prefix prompt, delays between turns (drawn only when workload.sessions or prefixPrompts is set). */
  sessions?: RandomStream;
}

export interface WorkloadLimits {
  /** The model's context window: prompt + output tokens must fit in it. */
  maxContext: number;
  /** The engine's KV block size in tokens: conversations hash their prompts by it. */
  blockSize?: number;
}

function checkCount(n: number, field: FieldPath): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new FieldError(field, `must be a whole number >= 0, got ${n}`);
}

/** Where a workload's requests come from: synthetic (closed-loop, poisson) or a recorded trace replayed. */
export function makeSource(w: Workload, rng: WorkloadRandom, limits: WorkloadLimits): RequestSource {
  checkMaxContext(limits.maxContext);
  checkCount(w.warmup, ['workload', 'warmup']);
  checkCount(w.requests, ['workload', 'requests']);
  if (w.kind === 'trace') {
    if (w.trace === undefined) throw new FieldError(['workload', 'trace'], 'required when workload.kind is trace');
    return new TraceReplaySource(w.trace, w.requests, w.warmup, limits.maxContext);
  }
  checkLengthDist(w.isl, ['workload', 'isl']);
  checkLengthDist(w.osl, ['workload', 'osl']);
  const profile = w.kind === 'poisson' ? rateProfile(w.rate) : undefined;
  if (w.sessions !== undefined || w.prefixPrompts !== undefined) {
    if (rng.sessions === undefined || limits.blockSize === undefined) throw new Error('a workload with sessions or prefixPrompts needs a sessions stream and the block size');
    return new ConversationSource(w, { ...rng, sessions: rng.sessions }, limits.maxContext, limits.blockSize, profile);
  }
  return new SyntheticSource(w, rng, limits.maxContext, profile);
}

/**
 * Closed-loop and poisson requests: warmup + requests of them, lengths drawn from the workload's distributions.
 * Only poisson requests carry arrival times; closed-loop ones are sent whenever a slot frees.
 */
class SyntheticSource implements RequestSource {
  readonly total: number;
  clamped = 0;
  private index = 0;
  private clock = 0;

  constructor(
    private readonly w: Workload,
    private readonly rng: WorkloadRandom,
    private readonly maxContext: number,
    /** Poisson: the arrival rate over time; closed loop: none. */
    private readonly rate: RateProfile | undefined,
  ) {
    this.total = w.warmup + w.requests;
  }

  next(): RequestSpec | null {
    if (this.index >= this.total) return null;
    // A rate that has dropped to 0 for good sends nothing more (the lengths are not drawn either).
    const arrival = this.rate ? nextArrival(this.rate, this.clock, this.rng.arrivals) : undefined;
    if (arrival === Infinity) {
      this.index = this.total;
      return null;
    }
    const index = this.index++;
    // Drawn in a fixed order (isl, then osl) from their own stream, so arrival draws never shift the lengths.
    const isl = drawLength(this.w.isl, this.rng.lengths);
    const osl = drawLength(this.w.osl, this.rng.lengths);
    const fit = fitLengths(isl, osl, this.maxContext);
    if (fit.changed) this.clamped++;
    const spec: RequestSpec = { index, id: `req-${index}`, isl: fit.isl, osl: fit.osl, warmup: index < this.w.warmup };
    if (arrival !== undefined) {
      this.clock = arrival;
      spec.arrivalS = arrival;
    }
    return spec;
  }
}

/**
 * A trace replayed in file order, read as it goes. Arrival times are the records' offsets from the first record,
 * divided by the speed-up. The first record is read when the source is made, so an empty, headerless or rowless
 * file is reported before the simulation starts; a bad row further on is reported when the replay reaches it.
 */
class TraceReplaySource implements RequestSource {
  readonly total = undefined;
  clamped = 0;
  private readonly reader: TraceReader;
  private readonly cap: number;
  private readonly speedup: number;
  private pending: TraceRecord | undefined;
  private index = 0;

  constructor(
    trace: TraceSource,
    requests: number,
    private readonly warmup: number,
    private readonly maxContext: number,
  ) {
    if (!(Number.isFinite(trace.speedup) && trace.speedup > 0)) {
      throw new FieldError(['workload', 'trace', 'speedup'], `must be a number > 0, got ${trace.speedup}`);
    }
    if (trace.limit !== undefined) checkCount(trace.limit, ['workload', 'trace', 'limit']);
    this.speedup = trace.speedup;
    // Both caps count records replayed, warm-up included; 0 (or absent) means no cap, and the tighter one wins.
    const caps = [trace.limit ?? 0, requests].filter((n) => n > 0);
    this.cap = caps.length > 0 ? Math.min(...caps) : Infinity;
    this.reader = new TraceReader(trace.format, trace.path);
    const first = this.reader.next();
    this.pending = first.done ? undefined : first.value;
  }

  next(): RequestSpec | null {
    if (this.index >= this.cap) return null;
    let rec = this.pending;
    this.pending = undefined;
    if (rec === undefined) {
      const r = this.reader.next();
      if (r.done) return null;
      rec = r.value;
    }
    const index = this.index++;
    const fit = fitLengths(rec.isl, rec.osl, this.maxContext);
    if (fit.changed) this.clamped++;
    const spec: RequestSpec = {
      index,
      id: `req-${index}`,
      arrivalS: rec.offsetS / this.speedup,
      isl: fit.isl,
      osl: fit.osl,
      warmup: index < this.warmup,
    };
    if (rec.hashIds !== undefined) {
      // A prompt cut to fit the context no longer has its last blocks, so it cannot reuse them either.
      const blocks = Math.ceil(fit.isl / MOONCAKE_BLOCK_TOKENS);
      spec.hashIds = rec.hashIds.length > blocks ? rec.hashIds.slice(0, blocks) : rec.hashIds;
      spec.hashBlockTokens = MOONCAKE_BLOCK_TOKENS;
    }
    return spec;
  }
}
