import type { BlockHash } from '../spec/experiment.js';

/**
 * KVBM's disk offload filter (Dynamo v1 lib/llm/src/block_manager/offload/filter.rs, FrequencyFilter; on unless
 * DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER): every block offered for host -> disk offload counts once more, its count
 * starting at 1 and doubling at each later offer; it goes to disk when the count reaches the threshold. Every decay
 * interval all counts drop by 1 and those at 0 are forgotten, and so they are whenever the map outgrows its cap. KVBM
 * builds it with threshold 2, a 600 s interval and 1,000,000 entries (lib/bindings/kvbm/src/block_manager.rs): a block
 * goes to disk when it is offered a second time before its count decays away.
 * The decay runs on the simulated clock, applied when the filter is next asked.
 */
export interface OffloadFilterConfig {
  threshold: number;
  decayIntervalS: number;
  maxEntries: number;
}

/** KVBM's values (block_manager.rs: FrequencyFilter::new(2, Duration::from_secs(600), 1_000_000, ...)). */
export const KVBM_DISK_FILTER: OffloadFilterConfig = { threshold: 2, decayIntervalS: 600, maxEntries: 1_000_000 };

export class FrequencyFilter {
  private readonly counts = new Map<BlockHash, number>();
  /** Decays applied so far (at decayIntervalS, 2 x decayIntervalS, ...). */
  private decays = 0;

  constructor(readonly cfg: OffloadFilterConfig = KVBM_DISK_FILTER) {}

  get size(): number {
    return this.counts.size;
  }

  /** Counts an offer of `hash` at `now`: true when it may go to disk. */
  offer(hash: BlockHash, now: number): boolean {
    const due = Math.floor(now / this.cfg.decayIntervalS);
    while (this.decays < due) {
      this.decay();
      this.decays++;
    }
    const before = this.counts.get(hash);
    const count = before === undefined ? 1 : before * 2;
    this.counts.set(hash, count);
    while (this.counts.size > this.cfg.maxEntries) this.decay();
    return count >= this.cfg.threshold;
  }

  private decay(): void {
    for (const [h, c] of this.counts) {
      if (c <= 1) this.counts.delete(h);
      else this.counts.set(h, c - 1);
    }
  }

  /** A restarted worker's filter starts empty. */
  clear(): void {
    this.counts.clear();
  }
}
