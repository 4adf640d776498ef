import type { LlmSpec, SpeculativeMethod } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import type { Efficiency, StepWork } from './compute.js';

/**
 * Speculative decoding as vLLM runs it (--speculative-config): each decode step the target model verifies the k draft
 * tokens a drafter proposed plus one token of its own, in one forward pass of k + 1 query tokens per sequence, and the
 * sequence keeps its own token plus the leading drafts the target agrees with. The drafter then proposes the next k:
 *
 * - mtp (deepseek_mtp): the model's multi-token-prediction module (DeepSeek-V3/R1: one transformer block over the last
 *   hidden state and the next token's embedding, with the shared output head), run k times in a row;
 * - eagle / eagle3: a small head of the model's layer shape (one decoder layer for the published heads), k times;
 * - ngram: prompt lookup on the CPU, no GPU work.
 *
 * Pure functions and one cost class; the engine (src/serving/engine.ts) draws the acceptances from a seeded stream.
 */

export { SPECULATIVE_METHODS, type SpeculativeMethod } from '../spec/catalog.js';

/** The catalog entry (models/llm/ speculative.<key>) a method reads. */
export type DraftKind = 'mtp' | 'eagle' | 'eagle3' | 'ngram';

export function draftKind(method: SpeculativeMethod): DraftKind {
  return method === 'deepseek_mtp' ? 'mtp' : method;
}

/** The experiment's knob (deployment.engine.speculative). */
export interface SpeculativeArgs {
  method: SpeculativeMethod;
  numSpeculativeTokens: number;
  acceptanceRate?: number | undefined;
  acceptanceByPosition?: readonly number[] | undefined;
}

/**
 * A resolved speculative configuration: k drafts a step, draft i accepted with `acceptance[i]` given drafts 0..i-1
 * were (one rate for every position, or per position from a measured `acceptanceByPosition`).
 */
export interface Speculative {
  method: SpeculativeMethod;
  k: number;
  acceptance: readonly number[];
  /** Transformer layers one draft pass runs (0: n-gram, no GPU work). */
  draftLayers: number;
}

/**
 * The experiment's knob against the model's record: the acceptance rate is the experiment's, else the record's figure
 * for the method; MTP and EAGLE need the model's draft (its layers). A problem is a UserError naming the field
 * (`field` gets the key under deployment.engine.speculative that is wrong).
 */
export function resolveSpeculative(llm: LlmSpec, args: SpeculativeArgs): Speculative {
  const kind = draftKind(args.method);
  const drafts = llm.speculative ?? {};
  const has = (Object.keys(drafts) as DraftKind[]).filter((k) => drafts[k] !== undefined);
  const entry = drafts[kind];
  if (kind !== 'ngram' && entry === undefined) {
    const what = kind === 'mtp' ? 'ships no multi-token-prediction module' : `has no ${kind} draft head`;
    throw new SpeculativeError(
      'method',
      `method '${args.method}': model '${llm.id}' ${what} in the catalog (models/llm/${llm.id}.yaml speculative.${kind})` +
        `${has.length ? `; it has: ${has.join(', ')}` : ''}${kind === 'mtp' ? '' : `; add the head's draftLayers there`}, or use method ngram`,
    );
  }
  const k = args.numSpeculativeTokens;
  // The experiment's figure before the record's; a per-position list before a single rate from the same place.
  const fromFile = args.acceptanceByPosition !== undefined || args.acceptanceRate !== undefined;
  const from: { acceptanceRate?: number | undefined; acceptanceByPosition?: readonly number[] | undefined } = fromFile ? args : (entry ?? {});
  let acceptance: number[];
  if (from.acceptanceByPosition !== undefined) {
    const byPos = from.acceptanceByPosition;
    const where = fromFile ? 'acceptanceByPosition' : `models/llm/${llm.id}.yaml speculative.${kind}.acceptanceByPosition`;
    if (byPos.length < k) {
      throw new SpeculativeError(
        fromFile ? 'acceptanceByPosition' : 'numSpeculativeTokens',
        `${where} gives ${byPos.length} position(s) for num_speculative_tokens ${k}: measured rates for positions past ${byPos.length} are not known; ` +
          `use numSpeculativeTokens <= ${byPos.length}${fromFile ? ', or list one rate a position' : ', or give acceptanceRate or acceptanceByPosition'}`,
      );
    }
    acceptance = conditionalAcceptance(byPos.slice(0, k), where);
  } else if (from.acceptanceRate !== undefined) {
    acceptance = new Array<number>(k).fill(from.acceptanceRate);
  } else {
    throw new SpeculativeError(
      'acceptanceRate',
      `method '${args.method}' on '${llm.id}': no acceptance rate: give acceptanceRate (the chance a draft token is accepted given the ones before it were, 0..1) ` +
        `or acceptanceByPosition (vLLM's 'acceptance at token i', one a position), or add a sourced speculative.${kind}.acceptanceRate to models/llm/${llm.id}.yaml`,
    );
  }
  return { method: args.method, k, acceptance, draftLayers: kind === 'ngram' ? 0 : (entry as { draftLayers: number }).draftLayers };
}

/**
 * Per-position rates as vLLM reports them (examples/offline_inference/spec_decode.py's 'acceptance at token i', the
 * metric vllm:spec_decode_num_accepted_tokens_per_pos over num_drafts): the share of steps whose draft i was accepted,
 * which needs drafts 0..i-1 accepted too. So they cannot rise with i, and draft i is accepted given the ones before
 * with p_i / p_(i-1).
 */
export function conditionalAcceptance(byPosition: readonly number[], where: string): number[] {
  const out: number[] = [];
  let before = 1;
  for (let i = 0; i < byPosition.length; i++) {
    const p = byPosition[i]!;
    if (!(p > 0 && p < 1)) throw new SpeculativeError('acceptanceByPosition', `${where}[${i}] = ${p}: expected a rate > 0 and < 1`);
    if (p > before) {
      throw new SpeculativeError(
        'acceptanceByPosition',
        `${where}[${i}] = ${p} is above position ${i - 1}'s ${before}: a draft is accepted only after the ones before it, so the rates cannot rise`,
      );
    }
    out.push(p / before);
    before = p;
  }
  return out;
}

/** A resolution problem, with the key under deployment.engine.speculative it is about. */
export class SpeculativeError extends UserError {
  constructor(
    readonly field: 'method' | 'acceptanceRate' | 'acceptanceByPosition' | 'numSpeculativeTokens',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Expected tokens a sequence emits per step with k drafts each accepted with probability a given the ones before:
 * 1 + a + a^2 + ... + a^k = (1 - a^(k+1)) / (1 - a), before the cap of the tokens it still has to produce.
 */
export function expectedTokensPerStep(a: number, k: number): number {
  return (1 - Math.pow(a, k + 1)) / (1 - a);
}

/** The same with a conditional rate per position: 1 + a0 + a0 a1 + ... (vLLM's mean acceptance length). */
export function expectedTokensPerStepByPosition(acceptance: readonly number[]): number {
  let tokens = 1;
  let reach = 1;
  for (const a of acceptance) {
    reach *= a;
    tokens += reach;
  }
  return tokens;
}

/**
 * Drafts accepted out of `drafts`: the leading successes, draft i with probability acceptance[i] (`next` gives
 * uniforms in [0, 1)).
 */
export function acceptedDrafts(drafts: number, acceptance: readonly number[], next: () => number): number {
  let n = 0;
  while (n < drafts && next() < acceptance[n]!) n++;
  return n;
}

/**
 * The draft as a model the step-time roofline can price: `layers` of the target's layers, as many parameters as the
 * target's average layer each (the FFN and experts included: DeepSeek's MTP block is a MoE block like the others),
 * plus the output head it shares with the target, and the same attention, KV and expert shape. Its first layers are
 * MoE when the target's are (firstDenseLayers 0).
 */
export function draftModel(llm: LlmSpec, layers: number): LlmSpec {
  const head = 2 * llm.vocabSize * llm.hiddenSize; // embedding + LM head, as matmulParams counts them
  const perLayer = (llm.params - head) / llm.layers;
  const activePerLayer = (llm.activeParams - head) / llm.layers;
  const { sources: _sources, speculative: _speculative, ...shape } = llm;
  return {
    ...shape,
    id: `${llm.id}:draft`,
    layers,
    params: perLayer * layers + head,
    activeParams: activePerLayer * layers + head,
    ...(llm.moe ? { moe: { ...llm.moe, firstDenseLayers: 0 } } : {}),
    sources: {},
  };
}

/** The draft's passes add no host time of their own: they run inside the target's step (same scheduling, sampling). */
export function draftEfficiency(eff: Efficiency): Efficiency {
  return { ...eff, stepOverheadS: 0, connectorStepOverheadS: 0 };
}

/**
 * The GPU time of one step's draft passes, priced by `draft` (a step-cost of the draft model at the worker's
 * parallelism): the first pass over every token the target ran this step (prefill chunks and each decode's verified
 * tokens, which fill the draft's own KV and give the first draft), then k - 1 passes of one token per decoding
 * sequence, one after another (each draft needs the one before).
 */
export class DraftCost {
  private readonly next: { prefill: StepWork['prefill']; decode: readonly number[] } = { prefill: [], decode: [] };

  constructor(
    private readonly draft: { seconds(work: StepWork): number } | null,
    private readonly k: number,
  ) {}

  seconds(work: StepWork): number {
    if (this.draft === null) return 0;
    let t = this.draft.seconds(work);
    if (this.k > 1 && work.decode.length > 0) {
      this.next.decode = work.decode;
      t += (this.k - 1) * this.draft.seconds(this.next);
    }
    return t;
  }
}
