import type { RouterKind } from '../spec/experiment.js';
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
    const n = this.engines.length;
    if (this.kind === 'round-robin') {
      for (let i = 0; i < n; i++) {
        const e = this.engines[(this.next + i) % n]!;
        if (!e.dead) {
          this.next = (this.next + i + 1) % n;
          return e;
        }
      }
      return null;
    }
    const prefix = this.kind === 'kv-aware' ? hashes : undefined;
    let best: Engine | null = null;
    let bestHit = 0;
    for (const e of this.engines) {
      if (e.dead) continue;
      const hit = prefix ? e.pool.matchPrefix(prefix) : 0;
      if (best === null || hit > bestHit || (hit === bestHit && e.load < best.load)) {
        best = e;
        bestHit = hit;
      }
    }
    return best;
  }
}
