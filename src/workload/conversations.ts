import type { RandomStream } from '../engine/random.js';
import { InvariantError } from '../errors.js';
import type { BlockHash, Workload } from '../spec/experiment.js';
import { drawLength, fitLengths } from './lengths.js';
import { nextArrival, type RateProfile } from './rate.js';
import type { RequestSource, RequestSpec } from './types.js';

/**
 * One conversation's state between its turns: the tokens its next prompt starts with (prefix prompt, earlier prompts
 * and answers), and the content hashes of its full blocks, grown as the context grows.
 */
export interface Conversation {
  readonly id: number;
  /** Which prefix prompt it starts with; -1 with none. */
  readonly variant: number;
  /** Turns still to send after the current one. */
  turnsLeft: number;
  /** Tokens of the context the current turn's prompt and answer make: the next prompt's start. */
  contextTokens: number;
  /** Block hashes of the context so far, one per full engine block. */
  readonly hashes: BlockHash[];
  /** Turns sent so far (the current one included). */
  turnsSent: number;
}

/** Block hashes a prompt may need: 2^18, past any model's context at one token a block. */
const BLOCKS_A_PROMPT = 2 ** 18;

export interface ConversationRandom {
  lengths: RandomStream;
  arrivals: RandomStream;
  /** Turns per conversation, its prefix prompt, and the delays between turns. */
  sessions: RandomStream;
}

/** The next turn of a conversation and how long after the previous turn's end it is sent. */
export interface FollowUp {
  spec: RequestSpec;
  delayS: number;
}

/**
 * Closed-loop and poisson requests as conversations (workload.sessions) and with shared prefix prompts
 * (workload.prefixPrompts); without sessions each request is a conversation of one turn.
 *
 * Prefix caching finds a block by the hash of every token up to its end (vLLM chains each block's hash to its
 * parent's). So a block wholly inside prefix prompt v has the same hash in every prompt that starts with v, and any
 * other block is the conversation's own: turn k + 1's prompt starts with turn k's prompt and answer, so its first
 * blocks are turn k's. A request's hashes cover the full blocks of its prompt and of its answer but the last token
 * (whose KV is never computed): an engine that decodes it can cache the answer's blocks for the next turn.
 *
 * The budget (warmup + requests) counts turns: once it is spent no conversation starts and none goes on.
 */
export class ConversationSource implements RequestSource {
  readonly total: number;
  clamped = 0;
  /** Conversations that ended before their last turn because the next prompt and answer would not fit the context. */
  cutAtContext = 0;
  conversations = 0;
  private index = 0;
  private clock = 0;
  private readonly prefixTokens: number;

  constructor(
    private readonly w: Workload,
    private readonly rng: ConversationRandom,
    private readonly maxContext: number,
    private readonly blockSize: number,
    private readonly rate: RateProfile | undefined,
  ) {
    this.total = w.warmup + w.requests;
    this.prefixTokens = w.prefixPrompts?.tokens ?? 0;
  }

  /** The first turn of a new conversation (with its arrival time in an open loop), or null when the budget is spent. */
  next(): RequestSpec | null {
    if (this.index >= this.total) return null;
    const arrival = this.rate ? nextArrival(this.rate, this.clock, this.rng.arrivals) : undefined;
    if (arrival === Infinity) {
      this.index = this.total;
      return null;
    }
    // Drawn in a fixed order from the sessions stream: turns, then the prefix prompt.
    const s = this.w.sessions;
    const turns = s ? Math.max(1, drawLength({ mean: s.turns.mean, stddev: s.turns.stddev }, this.rng.sessions)) : 1;
    const pp = this.w.prefixPrompts;
    const variant = pp ? (pp.count === 1 ? 0 : Math.floor(this.rng.sessions.next() * pp.count)) : -1;
    const conv: Conversation = { id: this.conversations++, variant, turnsLeft: turns - 1, contextTokens: this.prefixTokens, hashes: [], turnsSent: 0 };
    const user = drawLength(this.w.isl, this.rng.lengths);
    const osl = drawLength(this.w.osl, this.rng.lengths);
    const fit = fitLengths(this.prefixTokens + user, osl, this.maxContext);
    if (fit.changed) this.clamped++;
    const spec = this.turn(conv, fit.isl, fit.osl);
    if (arrival !== undefined) {
      this.clock = arrival;
      spec.arrivalS = arrival;
    }
    return spec;
  }

  /**
   * The conversation's next turn once `spec` has ended (`answered` of its output tokens, none if it failed), or null:
   * the conversation is over (no turns left, the turn failed, the next would not fit the context, the budget is spent).
   */
  followUp(spec: RequestSpec, answered: number, ok: boolean): FollowUp | null {
    const conv = spec.conversation;
    if (!conv || conv.turnsLeft <= 0 || !ok || this.index >= this.total) return null;
    conv.turnsLeft--;
    const s = this.w.sessions!;
    const delayS = s.delayS.stddev === 0 ? s.delayS.mean : this.rng.sessions.normal(s.delayS.mean, s.delayS.stddev, 0);
    const user = Math.max(1, drawLength(this.w.isl, this.rng.lengths));
    const osl = Math.max(1, drawLength(this.w.osl, this.rng.lengths));
    conv.contextTokens = spec.isl + answered;
    const isl = conv.contextTokens + user;
    if (isl + osl > this.maxContext) {
      this.cutAtContext++;
      return null;
    }
    return { spec: this.turn(conv, isl, osl), delayS };
  }

  private turn(conv: Conversation, isl: number, osl: number): RequestSpec {
    const index = this.index++;
    conv.turnsSent++;
    // Full blocks of the prompt and of the answer but its last token.
    const blocks = Math.floor((isl + osl - 1) / this.blockSize);
    const h = conv.hashes;
    const shared = Math.floor(this.prefixTokens / this.blockSize);
    if (blocks > BLOCKS_A_PROMPT) throw new InvariantError(`a conversation of ${blocks} blocks: block hashes number at most ${BLOCKS_A_PROMPT} a prompt`);
    // Numbers, one space per conversation and one per prefix prompt (negative): conversation c's block k is
    // c x 2^18 + k, prefix prompt v's block k is -(v x 2^18 + k) - 1.
    for (let k = h.length; k < blocks; k++) h.push(k < shared ? -(conv.variant * BLOCKS_A_PROMPT + k) - 1 : conv.id * BLOCKS_A_PROMPT + k);
    return {
      index,
      id: `req-${index}`,
      isl,
      osl,
      warmup: index < this.w.warmup,
      blockHashes: h.length > blocks ? h.slice(0, blocks) : h.slice(),
      conversation: conv,
      ...(this.w.sessions ? { turn: conv.turnsSent } : {}),
    };
  }
}
