import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShareHeap } from '../../src/network/share-heap.js';

describe('ShareHeap', () => {
  it('pops (share, key) pairs in the order a sort by share then key gives, across growth and reuse', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(0, 0.5, 1, 2.5, 3, 1e9), fc.integer({ min: 0, max: 50 })), {
          maxLength: 300,
        }),
        (pairs) => {
          const heap = new ShareHeap(2);
          for (let pass = 0; pass < 2; pass++) {
            heap.clear();
            for (const [share, key] of pairs) heap.push(share, key);
            const out: [number, number][] = [];
            while (heap.size > 0) {
              out.push([heap.topShare(), heap.topKey()]);
              heap.pop();
            }
            const sorted = [...pairs].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
            expect(out).toEqual(sorted);
          }
        },
      ),
    );
  });
});
