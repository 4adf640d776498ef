import type { MeasuredMetric } from '../measure/types.js';

/**
 * How a measured value stands against the physics and the model. Pure; the rules are docs/planning.md's (Audit):
 * - impossible: beyond the physical bound (a latency below it, a throughput above it);
 * - slower: worse than the modeled value by more than the tolerance (a latency above modeled x (1 + tolerance), a
 *   throughput below modeled x (1 - tolerance));
 * - consistent: otherwise. A value better than modeled by more than the tolerance, yet physically possible, is
 *   consistent too, with the cause `faster-than-modeled`: the model's efficiency factors are pessimistic for that
 *   hardware (calibrate them).
 */
export type Verdict = 'consistent' | 'slower' | 'impossible';

export interface Cause {
  /** queueing | tcp-fallback | host-staging | expiry-fallback | prefix-cache-hits | truncated-prompts |
   *  truncated-outputs | broken-measurement | faster-than-modeled | model-fails-requests */
  cause: string;
  detail: string;
  /** The metric as the model gives it under this cause's hypothesis, where one was simulated. */
  modeled?: number;
}

/** Relative tolerance of `consistent`: a measurement within 15% of the model agrees with it. */
export const DEFAULT_TOLERANCE = 0.15;

/** Throughput is better when higher; the latencies when lower. */
export function higherIsBetter(metric: MeasuredMetric): boolean {
  return metric === 'throughput';
}

export interface Judgement {
  verdict: Verdict;
  /** Better than modeled by more than the tolerance (and still possible). */
  faster: boolean;
}

/** `modeled` null: the model completed no request of this point (nothing to compare with but the bound). */
export function judge(metric: MeasuredMetric, measured: number, bound: number, modeled: number | null, tolerance: number): Judgement {
  const up = higherIsBetter(metric);
  if (up ? measured > bound : measured < bound) return { verdict: 'impossible', faster: false };
  if (modeled === null) return { verdict: 'consistent', faster: false };
  if (up ? measured < modeled * (1 - tolerance) : measured > modeled * (1 + tolerance)) return { verdict: 'slower', faster: false };
  return { verdict: 'consistent', faster: up ? measured > modeled * (1 + tolerance) : measured < modeled * (1 - tolerance) };
}

/**
 * Whether a hypothesis's modeled value accounts for a slower measurement: it reaches the measured value (within the
 * tolerance). A partial effect (some requests over TCP, some queueing) lands between the model and the hypothesis,
 * so any measured value in that range is explained.
 */
export function explains(metric: MeasuredMetric, measured: number, hypothesis: number, tolerance: number): boolean {
  return higherIsBetter(metric) ? hypothesis <= measured * (1 + tolerance) : hypothesis >= measured * (1 - tolerance);
}

/** What a value beyond the physical bound points to, by metric. */
export function impossibleCauses(metric: MeasuredMetric): Cause[] {
  const prefix: Cause = { cause: 'prefix-cache-hits', detail: 'prompts shared a cached prefix, so fewer than isl tokens were prefilled (the bound prefills all of them)' };
  const truncated: Cause = { cause: 'truncated-prompts', detail: 'the prompts were shorter than the stated isl (truncated, or counted with another tokenizer)' };
  switch (metric) {
    case 'ttft':
      return [prefix, truncated, { cause: 'broken-measurement', detail: 'TTFT taken from the wrong event (a non-streaming response, an empty first chunk, a clock mismatch)' }];
    case 'itl':
      return [
        truncated,
        { cause: 'broken-measurement', detail: 'ITL averaged over streamed chunks of several tokens, tokens counted differently, or speculative decoding (more than one token a step), which the model does not have' },
      ];
    case 'latency':
      return [
        prefix,
        truncated,
        { cause: 'truncated-outputs', detail: 'fewer output tokens than osl (an early end of sequence without ignore_eos)' },
        { cause: 'broken-measurement', detail: 'latency taken from the wrong events or clocks' },
      ];
    case 'throughput':
      return [
        prefix,
        truncated,
        { cause: 'broken-measurement', detail: 'throughput counted input tokens too, or over a window shorter than the run' },
      ];
  }
}
