import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PriorityQueue } from 'js-sdsl';
import { EventQueue } from '../../src/engine/index.js';

interface Entry {
  time: number;
  seq: number;
  id: number;
}

// js-sdsl is a max-heap unless told otherwise, and not stable: order it explicitly by (time, seq), smallest first.
const byTimeThenSeq = (a: Entry, b: Entry): number => (a.time !== b.time ? a.time - b.time : a.seq - b.seq);

/**
 * A time: one of a few (so that ties are common, and buckets are often too bunched to sort), or any in a range (so
 * that buckets are sorted into the run), or one of a few then some (clusters).
 */
const time = fc.oneof(
  fc.integer({ min: 0, max: 20 }).map((t) => t / 4),
  fc.double({ min: 0, max: 5, noNaN: true }),
  fc.tuple(fc.integer({ min: 0, max: 4 }), fc.double({ min: 0, max: 0.01, noNaN: true })).map(([a, b]) => a + b),
);

/** An operation: push an entry, or pop. */
const op = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('push' as const), time }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('pop' as const) }) },
  // The kernel's hold step: the earliest entry is replaced by a new one (a pop and a push in one).
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('replaceTop' as const), time }) },
);

/** Tiers small enough that a few hundred operations turn the queue tiered, spread the top and fall back. */
const tiers = fc.oneof(
  fc.constant(undefined), // the defaults: heap only at these sizes
  fc.record({ tierAbove: fc.integer({ min: 2, max: 24 }), bucketSize: fc.integer({ min: 1, max: 6 }) }),
);

describe('EventQueue', () => {
  it('pops in the same order as js-sdsl PriorityQueue ordered by (time, seq), for any operation sequence', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), fc.integer({ min: 2, max: 8 }), tiers, (ops, capacity, options) => {
        const ours = new EventQueue(capacity, options); // small capacity: growth by doubling is exercised too
        const reference = new PriorityQueue<Entry>([], byTimeThenSeq);
        let seq = 0;
        for (const o of ops) {
          if (o.kind === 'push') {
            const e = { time: o.time, seq: seq, id: seq };
            seq++;
            ours.push(e.time, e.seq, e.id);
            reference.push(e);
          } else if (o.kind === 'replaceTop') {
            const e = { time: o.time, seq: seq, id: seq };
            seq++;
            ours.replaceTop(e.time, e.seq, e.id);
            reference.pop(); // nothing when empty: replaceTop is then a push
            reference.push(e);
          } else {
            const want = reference.pop();
            const wantTime = ours.peekTime();
            const got = ours.pop();
            if (want === undefined) {
              expect(got).toBe(-1);
            } else {
              expect(got).toBe(want.id);
              expect(wantTime).toBe(want.time);
            }
          }
          expect(ours.size).toBe(reference.size());
        }
        // Drain both: the remaining order must match too.
        while (reference.size() > 0) expect(ours.pop()).toBe(reference.pop()!.id);
        expect(ours.pop()).toBe(-1);
      }),
      { numRuns: 600, seed: 20261121 },
    );
  });

  it('holds the order with 100k entries in buckets: the hold pattern, then a drain', () => {
    // An independent check at the size the buckets are for: times drawn from a fixed linear congruential sequence,
    // the earliest replaced 300,000 times (each new time = the popped one + a draw), then everything drained.
    // Every time popped must be >= the one before, and the count must come out exact.
    const q = new EventQueue(1024);
    let x = 12345;
    const draw = (): number => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return x / 2147483648;
    };
    let seq = 0;
    for (let i = 0; i < 100_000; i++) q.push(draw() * 10, seq++, i);
    let last = -Infinity;
    let backwards = 0;
    for (let k = 0; k < 300_000; k++) {
      const t = q.peekTime();
      if (!(t >= last)) backwards++;
      last = t;
      q.replaceTop(t + draw() * 10, seq++, q.peekId());
    }
    expect(backwards).toBe(0);
    expect(q.size).toBe(100_000);
    const seen = new Set<number>();
    while (q.size > 0) {
      const t = q.peekTime();
      if (!(t >= last)) expect.fail(`time went back: ${t} after ${last}`);
      last = t;
      seen.add(q.pop());
    }
    expect(seen.size).toBe(100_000); // every id came out once
  });

  it('keeps a crowd at one time first-in first-out across the tiers', () => {
    // 5,000 entries at t=7 (one time: the top cannot be spread) among far ones: FIFO within t=7, nothing lost.
    const q = new EventQueue(16, { tierAbove: 64, bucketSize: 8 });
    let seq = 0;
    for (let i = 0; i < 5000; i++) {
      q.push(7, seq++, i);
      if (i % 10 === 0) q.push(100 + i, seq++, 100_000 + i);
    }
    for (let i = 0; i < 5000; i++) expect(q.pop()).toBe(i);
    expect(q.peekTime()).toBe(100);
    expect(q.size).toBe(500);
  });

  it('keeps equal times first-in first-out between a sorted bucket and the heap', () => {
    // Twelve entries with tierAbove 8 and bucketSize 4: the 8th push turns the queue tiered, the first peek spreads
    // all twelve over ceil(12 / 4) = 3 buckets across [1, 12], and the first bucket (t < 1 + 11/3) is {1, 1, 1, 1.5}:
    // spread enough to be sorted into the run. An entry added at t=1 then goes to the heap (its bucket has moved)
    // and must come out after the three entries at t=1 that were queued before it, and before t=1.5.
    const q = new EventQueue(4, { tierAbove: 8, bucketSize: 4 });
    const times = [1, 1, 1, 1.5, 5, 6, 7, 8, 9, 10, 11, 12];
    times.forEach((t, i) => q.push(t, i, i));
    expect(q.peekTime()).toBe(1);
    q.push(1, 12, 12);
    expect([q.pop(), q.pop(), q.pop()]).toEqual([0, 1, 2]);
    expect(q.peekSeq()).toBe(12);
    expect([q.pop(), q.pop(), q.pop()]).toEqual([12, 3, 4]);
    expect(q.size).toBe(7);
  });

  it('sorts equal times by seq when a bucket holds them out of order (moved there from the heap)', () => {
    // The heap's array is not in seq order among equal times: after push (0, s0), (1, s1), (1, s2), (1, s3) and a
    // pop, the pop moves the hole down to position 2 (s1 is the smaller child of the root) and the last entry, s3,
    // fills it: the array reads s1, s3, s2. Five more pushes make eight entries (tierAbove 8): the heap goes to the
    // top in array order, and the first peek spreads the top over ceil(8 / 4) = 2 buckets across [1, 8]. The first,
    // t < 4.5, holds s1, s3, s2 and (1.5, s4), all in one sub-range of the distribution sort: the insertion sort
    // alone must put s2 before s3, by seq.
    const q = new EventQueue(4, { tierAbove: 8, bucketSize: 4 });
    q.push(0, 0, 0);
    q.push(1, 1, 1);
    q.push(1, 2, 2);
    q.push(1, 3, 3);
    expect(q.pop()).toBe(0);
    [1.5, 5, 6, 7, 8].forEach((t, i) => q.push(t, 4 + i, 4 + i));
    expect(q.size).toBe(8);
    expect(Array.from({ length: 8 }, () => q.pop())).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('keeps equal times first-in first-out', () => {
    const q = new EventQueue(2);
    for (let i = 0; i < 50; i++) q.push(1.5, i, i);
    const order = Array.from({ length: 50 }, () => q.pop());
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('reports Infinity and -1 when empty', () => {
    const q = new EventQueue();
    expect(q.peekTime()).toBe(Infinity);
    expect(q.peekSeq()).toBe(-1);
    expect(q.peekId()).toBe(-1);
    expect(q.pop()).toBe(-1);
  });
});
