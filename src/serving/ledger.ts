import { InvariantError } from '../errors.js';
import type { FailureCause, ServingRequest } from './cluster.js';

/**
 * The books of a run's requests, warm-up included, kept apart from the metrics so that the two can be checked against
 * each other. The partition: every request sent is, at any moment, in exactly one of
 *   completed (all its output tokens streamed; whether its KV came over NIXL or it fell back to a local prefill),
 *   failed (for one FailureCause), or
 *   in flight (sent, not ended: still running when the run stops at its horizon).
 * "Fell back" is not a fourth end but a path to one: a request that fell back ends completed or failed like any other
 * and is also counted in fellBack. So sent = completed + failed + inFlight, and fellBack <= completed + failed.
 */
export interface RequestCounts {
  sent: number;
  completed: number;
  failed: number;
  inFlight: number;
  /** Ended requests (completed or failed) that fell back to prefilling on the decode worker. */
  fellBack: number;
  /** Ended requests whose KV arrived after prefill had released it. */
  stale: number;
  failedBy: Record<FailureCause, number>;
}

/** The bound on requests in flight at once, a contract of the experiment (src/spec/experiment.ts). */
export { MAX_IN_FLIGHT } from '../spec/experiment.js';

const CAUSES: readonly FailureCause[] = ['connection_reset', 'worker_restart', 'engine_dead', 'kv_transfer', 'no_worker', 'too_long'];

export class RequestLedger {
  /** Live requests (sent, not ended), and of them the warm-up ones; each request says whether it is live (`booked`). */
  private live = 0;
  private liveWarmup = 0;
  private sentCount = 0;
  private completed = 0;
  private failed = 0;
  private fellBack = 0;
  private stale = 0;
  private readonly failedBy = Object.fromEntries(CAUSES.map((c) => [c, 0])) as Record<FailureCause, number>;

  sent(r: ServingRequest): void {
    if (r.booked !== undefined) throw new InvariantError(`every request is sent once: request ${r.id} sent twice`);
    r.booked = 'live';
    this.sentCount++;
    this.live++;
    if (r.warmup) this.liveWarmup++;
  }

  /**
   * A request ended: it must be live (not ended before), in a terminal state, and consistent with it. O(1), so it runs
   * in every run.
   */
  ended(r: ServingRequest, now: number): void {
    if (r.booked !== 'live') {
      throw new InvariantError(`every request ends exactly once: request ${r.id} (${r.status}${r.failure ? `: ${r.failure}` : ''}) ended again at t=${now} s, or was never sent`);
    }
    r.booked = 'ended';
    this.live--;
    if (r.warmup) this.liveWarmup--;
    if (r.status === 'completed') {
      this.completed++;
      const order = [r.sentAt, r.firstTokenAt, r.lastTokenAt, r.doneAt];
      const inOrder = order.every((t, i) => t !== undefined && (i === 0 || t >= order[i - 1]!));
      if (r.outputTokens !== r.osl || !inOrder) {
        throw new InvariantError(
          `a completed request streamed all its tokens, in order: request ${r.id} has ${r.outputTokens} of ${r.osl} output tokens; ` +
            `sent ${r.sentAt}, first token ${r.firstTokenAt}, last token ${r.lastTokenAt}, done ${r.doneAt} s`,
        );
      }
    } else if (r.status === 'failed') {
      this.failed++;
      if (r.failureCause === undefined) throw new InvariantError(`a failed request says why: request ${r.id} failed without a cause (${r.failure})`);
      this.failedBy[r.failureCause]++;
    } else {
      throw new InvariantError(`a request ends completed or failed: request ${r.id} ended while ${r.status}`);
    }
    if (r.fellBack) this.fellBack++;
    if (r.stale) this.stale++;
  }

  /** The live requests, measured ones only when asked (the metrics' in-flight count). */
  inFlight(measuredOnly = false): number {
    return measuredOnly ? this.live - this.liveWarmup : this.live;
  }

  counts(): RequestCounts {
    return {
      sent: this.sentCount,
      completed: this.completed,
      failed: this.failed,
      inFlight: this.live,
      fellBack: this.fellBack,
      stale: this.stale,
      failedBy: { ...this.failedBy },
    };
  }

  /** sent = completed + failed + inFlight, and the causes add up. O(1): runs after every event in debug mode. */
  check(): void {
    const { sentCount: sent, completed, failed } = this;
    const inFlight = this.live;
    if (sent !== completed + failed + inFlight) {
      throw new InvariantError(`every request ends completed or failed, or is in flight: ${sent} sent != ${completed} completed + ${failed} failed + ${inFlight} in flight`);
    }
    let byCause = 0;
    for (const c of CAUSES) byCause += this.failedBy[c];
    if (byCause !== failed || this.fellBack > completed + failed || this.stale > completed + failed) {
      throw new InvariantError(
        `the request counts agree: ${failed} failed but ${byCause} by cause; ${this.fellBack} fell back and ${this.stale} stale of ${completed + failed} ended`,
      );
    }
  }
}
