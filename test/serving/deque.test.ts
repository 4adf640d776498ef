import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Deque } from '../../src/serving/deque.js';

describe('Deque', () => {
  it('keeps order at both ends across wrap-around and growth', () => {
    const q = new Deque<number>();
    // Walk the head round the 16-slot ring a few times, one in, one out.
    for (let i = 0; i < 40; i++) {
      q.pushBack(i);
      expect(q.popFront()).toBe(i);
    }
    expect(q.size).toBe(0);
    expect(q.front()).toBeUndefined();
    expect(q.popFront()).toBeUndefined();
    // Head now at 40 mod 16 = 8: 20 items wrap and force one doubling; a preempted one goes back to the front.
    for (let i = 0; i < 20; i++) q.pushBack(i);
    q.pushFront(-1);
    expect(q.size).toBe(21);
    expect([...q]).toEqual([-1, ...Array.from({ length: 20 }, (_, i) => i)]);
    expect(q.popFront()).toBe(-1);
    expect(q.front()).toBe(0);
    q.clear();
    expect(q.size).toBe(0);
    expect([...q]).toEqual([]);
    q.pushFront(7);
    expect([...q]).toEqual([7]);
  });

  it('behaves as an array used as a deque, for any sequence of operations', () => {
    const op = fc.oneof(fc.record({ back: fc.integer() }), fc.record({ front: fc.integer() }), fc.constant('pop' as const), fc.constant('clear' as const));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const q = new Deque<number>();
        const ref: number[] = [];
        for (const o of ops) {
          if (o === 'pop') expect(q.popFront()).toBe(ref.shift());
          else if (o === 'clear') {
            q.clear();
            ref.length = 0;
          } else if ('back' in o) {
            q.pushBack(o.back);
            ref.push(o.back);
          } else {
            q.pushFront(o.front);
            ref.unshift(o.front);
          }
          expect(q.size).toBe(ref.length);
          expect(q.front()).toBe(ref[0]);
        }
        expect([...q]).toEqual(ref);
      }),
    );
  });
});
