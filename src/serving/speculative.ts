import type { RandomStream } from '../engine/random.js';
import { acceptedDrafts, DraftCost, draftEfficiency, draftModel, type Efficiency, type Speculative, type StepWork } from '../physics/index.js';
import type { LlmSpec } from '../spec/catalog.js';

/**
 * An engine's speculative decoding (deployment.engine.speculative), as vLLM's V1 scheduler and rejection sampler run
 * it: a decoding sequence is scheduled with 1 + k tokens (its own and k drafts to verify; fewer drafts when the step's
 * token budget runs out, as the scheduler truncates them) and KV slots for them; once the step ends it emits its own
 * token plus the leading drafts accepted, each with its position's acceptance rate given the ones before (a draw from the
 * engine's seeded stream), at most the tokens it still has to produce. The step also runs the draft passes
 * (DraftCost). The engine calls take() while it builds the batch, attach() once it is built, draftSeconds() for its
 * duration and emitted() when it ends.
 */
export class SpeculativeDecoder {
  readonly k: number;
  private readonly acceptance: readonly number[];
  /** Tokens each decoding sequence of the step in flight runs (1 + its drafts), by its index in the batch. */
  private readonly queries: number[] = [];
  private readonly draft: DraftCost;
  private readonly next: () => number;

  constructor(
    readonly spec: Speculative,
    llm: LlmSpec,
    eff: Efficiency,
    /** A step cost of a model at the worker's parallelism (StepCost or MoeStepCost), for the draft's passes. */
    costOf: (llm: LlmSpec, eff: Efficiency) => { seconds(work: StepWork): number },
    rng: RandomStream,
  ) {
    this.k = spec.k;
    this.acceptance = spec.acceptance;
    this.draft = new DraftCost(spec.draftLayers > 0 ? costOf(draftModel(llm, spec.draftLayers), draftEfficiency(eff)) : null, spec.k);
    this.next = () => rng.next();
  }

  /** The tokens the batch's decode `i` takes out of `budget` (> 0): 1 + k, or what is left. */
  take(i: number, budget: number): number {
    const q = budget > this.k ? this.k + 1 : budget;
    this.queries[i] = q;
    return q;
  }

  /** The batch is built with `decodes` decoding sequences: the step's work carries their tokens. */
  attach(work: { decodeQueries?: readonly number[] }, decodes: number): void {
    if (this.queries.length !== decodes) this.queries.length = decodes;
    work.decodeQueries = this.queries;
  }

  /** GPU time of the step's draft passes. */
  draftSeconds(work: StepWork): number {
    return this.draft.seconds(work);
  }

  /** Tokens decode `i` of the finished step emits: 1 + its accepted drafts, at most `remaining`. */
  emitted(i: number, remaining: number): number {
    const n = 1 + acceptedDrafts(this.queries[i]! - 1, this.acceptance, this.next);
    return n < remaining ? n : remaining;
  }
}
