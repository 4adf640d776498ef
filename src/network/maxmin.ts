import { truncate } from '../engine/index.js';
import type { FlowImpl } from './flow.js';
import type { LinkImpl } from './link.js';
import { ShareHeap } from './share-heap.js';

/**
 * Max-min fair rates by progressive filling, as in SimGrid's flow model: take the most constrained link (least
 * remaining capacity per unfrozen flow), freeze its unfrozen flows at that share, subtract it along their paths,
 * repeat. A rate cap is a private link of capacity `rateCap` carrying one flow.
 *
 * The candidates sit in a heap rather than being rescanned each round. Freezing a flow at the current minimum share s
 * on a link where rem/n >= s leaves (rem - s)/(n - 1) >= rem/n, so shares only grow: entries made stale by a freeze are
 * recognised on pop (the link's share is no longer the one recorded) and dropped, and the fresh entry pushed after the
 * freeze comes out later. Cost per solve: O((L + C + R) log(L + C + R)) heap work plus O(sum of path lengths), where L
 * is the number of links carrying flows, C the number of capped flows and R <= the number of flows the rounds.
 */
export class MaxMinSolver {
  private readonly heap = new ShareHeap();
  private readonly active: LinkImpl[] = [];
  private readonly touchedLinks: LinkImpl[] = [];
  private pass = 0;
  private round = 0;

  /**
   * Sets `curRate` on every flow in `moving` (ordered by id) and `alloc` on the links they cross. `links` are all the
   * network's links by index; each link's `flows` must list exactly the moving flows crossing it, by id.
   * Returns the links carrying at least one flow, in order of first use by the flows (a reused array).
   */
  solve(moving: readonly FlowImpl[], links: readonly LinkImpl[]): readonly LinkImpl[] {
    const active = this.active;
    // Only the links that carried flows last time hold an allocation: zeroing them zeroes every link.
    for (const link of active) link.alloc = 0;
    truncate(active, 0);
    const heap = this.heap;
    heap.clear();
    const pass = ++this.pass;
    const nLinks = links.length;
    for (let i = 0; i < moving.length; i++) {
      const flow = moving[i]!;
      flow.frozen = false;
      flow.curRate = 0;
      for (const link of flow.links) {
        if (link.seen !== pass) {
          link.seen = pass;
          link.rem = link.capacity;
          link.unfrozen = 0;
          active.push(link);
        }
        link.unfrozen++;
      }
      // Caps get keys after all links: a cap and a link tied at the same share give the same rates either way.
      if (flow.rateCap !== undefined) heap.push(flow.rateCap, nLinks + i);
    }
    for (const link of active) heap.push(link.rem / link.unfrozen, link.index);

    const touched = this.touchedLinks;
    while (heap.size > 0) {
      const share = heap.topShare();
      const key = heap.topKey();
      heap.pop();
      truncate(touched, 0);
      this.round++;
      if (key >= nLinks) {
        const flow = moving[key - nLinks]!;
        if (flow.frozen) continue; // a link froze it first, at a lower share
        this.freeze(flow, share);
      } else {
        const link = links[key]!;
        if (link.unfrozen === 0 || link.rem / link.unfrozen !== share) continue; // stale entry
        for (const flow of link.flows) if (!flow.frozen) this.freeze(flow, share);
      }
      for (const link of touched) if (link.unfrozen > 0) heap.push(link.rem / link.unfrozen, link.index);
    }
    return active;
  }

  private freeze(flow: FlowImpl, rate: number): void {
    flow.curRate = rate;
    flow.frozen = true;
    const round = this.round;
    for (const link of flow.links) {
      link.alloc += rate;
      // Rounding must not leave a negative remainder, which would hand later flows a negative share.
      link.rem = link.rem > rate ? link.rem - rate : 0;
      link.unfrozen--;
      if (link.touched !== round) {
        link.touched = round;
        this.touchedLinks.push(link);
      }
    }
  }
}
