import type { RouterKind } from '../experiment/types.js';
import type { Engine } from './engine.js';

/**
 * Dynamo's frontend routing over a group of workers: round-robin, least-loaded (fewest requests queued or running),
 * or KV-aware (the most prompt blocks already in a worker's prefix cache, then least loaded). Dead workers are
 * skipped; ties go to the lowest index so that runs are deterministic.
 */
export class Router {
  private next = 0;

  constructor(
    readonly kind: RouterKind,
    readonly engines: Engine[],
  ) {}

  /** The worker for a request with these prompt block hashes, or null when every worker is dead. */
  pick(hashes?: readonly string[]): Engine | null {
    const live = this.engines.filter((e) => !e.dead);
    if (live.length === 0) return null;
    if (this.kind === 'round-robin') {
      for (let i = 0; i < this.engines.length; i++) {
        const e = this.engines[(this.next + i) % this.engines.length]!;
        if (!e.dead) {
          this.next = (this.next + i + 1) % this.engines.length;
          return e;
        }
      }
    }
    let best = live[0]!;
    let bestHit = this.kind === 'kv-aware' && hashes ? best.pool.matchPrefix(hashes) : 0;
    for (const e of live.slice(1)) {
      const hit = this.kind === 'kv-aware' && hashes ? e.pool.matchPrefix(hashes) : 0;
      if (hit > bestHit || (hit === bestHit && e.load < best.load)) {
        best = e;
        bestHit = hit;
      }
    }
    return best;
  }
}
