import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EventQueue } from '../../src/engine/index.js';

/** Pops everything: the ids in the order they come out. */
const drain = (q: EventQueue): number[] => {
  const out: number[] = [];
  while (q.size > 0) out.push(q.pop());
  return out;
};

describe('EventQueue', () => {
  it('pops by time, then by seq: equal times come out in the order they went in', () => {
    const q = new EventQueue(2); // grows from 2 entries while these go in
    // (time, seq, id): ids name the expected place in the output.
    const entries: [number, number, number][] = [
      [3, 0, 5],
      [1, 1, 0],
      [2, 2, 2],
      [1, 3, 1],
      [3, 4, 6],
      [2.5, 5, 4],
      [2, 6, 3],
    ];
    for (const [t, s, id] of entries) q.push(t, s, id);
    expect(q.size).toBe(7);
    expect(q.peekTime()).toBe(1);
    expect(q.peekId()).toBe(0);
    expect(drain(q)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('keeps 50 entries at one time first-in first-out, whatever the order their ids go in', () => {
    const q = new EventQueue(2);
    for (let i = 0; i < 50; i++) q.push(1.5, i, 49 - i);
    expect(drain(q)).toEqual(Array.from({ length: 50 }, (_, i) => 49 - i));
  });

  it('orders by seq, not by id or arrival, when seqs are handed in out of order', () => {
    const q = new EventQueue();
    q.push(1, 30, 0);
    q.push(1, 10, 1);
    q.push(1, 20, 2);
    expect(drain(q)).toEqual([1, 2, 0]);
  });

  it('reports Infinity and -1 when empty, also after the last entry left', () => {
    const q = new EventQueue();
    expect([q.peekTime(), q.peekId(), q.pop(), q.size]).toEqual([Infinity, -1, -1, 0]);
    q.push(4, 0, 9);
    expect(q.pop()).toBe(9);
    expect([q.peekTime(), q.peekId(), q.pop(), q.size]).toEqual([Infinity, -1, -1, 0]);
  });

  it('compact() drops the entries keep() refuses and the rest come out in the same order', () => {
    // Entry k at time (k * 7) % 10 with seq k: the order is by time, then k. Dropping odd k leaves
    // k = 0 (t 0), 10 (t 0), 4 (t 8), 8 (t 6), 2 (t 4), 6 (t 2), 12 (t 4): by (t, k) 0, 10, 6, 2, 12, 8, 4.
    const q = new EventQueue(4);
    for (let k = 0; k <= 12; k++) q.push((k * 7) % 10, k, k);
    const asked: number[] = [];
    q.compact((id) => {
      asked.push(id);
      return id % 2 === 0;
    });
    expect(asked.sort((a, b) => a - b)).toEqual(Array.from({ length: 13 }, (_, k) => k)); // every entry asked once
    expect(q.size).toBe(7);
    expect(drain(q)).toEqual([0, 10, 6, 2, 12, 8, 4]);
  });

  it('compact() down to nothing, and pushes after it, work', () => {
    const q = new EventQueue();
    for (let k = 0; k < 5; k++) q.push(k, k, k);
    q.compact(() => false);
    expect([q.size, q.peekTime(), q.pop()]).toEqual([0, Infinity, -1]);
    q.push(2, 5, 7);
    q.push(1, 6, 8);
    expect(drain(q)).toEqual([8, 7]);
  });

  it('pops in (time, seq) order for any sequence of pushes, pops and compactions (against a sorted list)', () => {
    type Op = { kind: 'push'; time: number } | { kind: 'pop' } | { kind: 'compact'; mod: number };
    // Few distinct times, so that ties are common; any doubles too.
    const time = fc.oneof(
      fc.integer({ min: 0, max: 12 }).map((t) => t / 4),
      fc.double({ min: 0, max: 5, noNaN: true }),
    );
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('push' as const), time }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('pop' as const) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), mod: fc.integer({ min: 2, max: 4 }) }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), fc.integer({ min: 1, max: 8 }), (ops, capacity) => {
        const q = new EventQueue(capacity);
        let ref: { time: number; seq: number }[] = [];
        let seq = 0;
        for (const o of ops) {
          if (o.kind === 'push') {
            q.push(o.time, seq, seq); // the id is the seq: it says which entry came out
            ref.push({ time: o.time, seq: seq++ });
          } else if (o.kind === 'compact') {
            q.compact((id) => id % o.mod !== 0);
            ref = ref.filter((e) => e.seq % o.mod !== 0);
          } else {
            ref.sort((a, b) => a.time - b.time || a.seq - b.seq);
            const want = ref.shift();
            expect(q.peekTime()).toBe(want?.time ?? Infinity);
            expect(q.pop()).toBe(want?.seq ?? -1);
          }
          expect(q.size).toBe(ref.length);
        }
        ref.sort((a, b) => a.time - b.time || a.seq - b.seq);
        expect(drain(q)).toEqual(ref.map((e) => e.seq));
      }),
      { numRuns: 400, seed: 20261207 },
    );
  });
});
