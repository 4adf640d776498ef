import type { Conversation } from './conversations.js';
import type { BlockHash } from '../spec/experiment.js';

/** One request as the workload issues it; the serving layer turns it into simulated work. */
export interface RequestSpec {
  /** Sequence number, 0-based, in issue order. */
  index: number;
  /** `req-${index}`. */
  id: string;
  /** Open loop (poisson, trace): absolute arrival time in simulated seconds. Closed loop: undefined (sent when a slot frees). */
  arrivalS?: number;
  /** Prompt tokens, a whole number >= 1. */
  isl: number;
  /** Output tokens, a whole number >= 1. */
  osl: number;
  /** Sent first and left out of the metrics. */
  warmup: boolean;
  /** Prefix-reuse hashes, one per `hashBlockTokens` tokens of the prompt (Mooncake hash_ids: 512 tokens a block). */
  hashIds?: number[];
  hashBlockTokens?: number;
  /** Engine-block hashes made by the workload itself (prefix prompts, conversations): full blocks of prompt and answer. */
  blockHashes?: BlockHash[];
  /** The conversation this request is a turn of (workload.sessions or prefixPrompts; src/workload/conversations.ts). */
  conversation?: Conversation;
  /** With workload.sessions: which turn of its conversation it is, from 1. */
  turn?: number;
}

export interface RequestSource {
  /** Next request, or null when the workload is exhausted. Constant memory: never materialises a whole trace. */
  next(): RequestSpec | null;
  /** Requests this source will produce in total, when known up front (closed-loop, poisson); undefined for traces. */
  readonly total: number | undefined;
  /**
   * Requests so far whose lengths had to change to be valid: a length below 1 raised to 1 (a trace row with 0 output
   * tokens, a normal draw below 1), or a prompt cut so that prompt + output fit the model's context. For a report note.
   */
  readonly clamped: number;
}
