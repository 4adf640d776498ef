import { describe, expect, it } from 'vitest';
import { Bag, removeAt, truncate } from '../../src/engine/index.js';

describe('truncate', () => {
  it('shortens an array to its first n items, and leaves a shorter one alone', () => {
    const a = [1, 2, 3, 4];
    truncate(a, 2);
    expect(a).toEqual([1, 2]);
    truncate(a, 5);
    expect(a).toEqual([1, 2]);
    truncate(a, 0);
    expect(a).toEqual([]);
  });
});

describe('removeAt', () => {
  it('removes one item and keeps the order of the rest, as splice(at, 1) does', () => {
    const a = ['a', 'b', 'c', 'd'];
    removeAt(a, 1);
    expect(a).toEqual(['a', 'c', 'd']);
    removeAt(a, 2); // the last
    expect(a).toEqual(['a', 'c']);
    removeAt(a, 5); // past the end: nothing
    expect(a).toEqual(['a', 'c']);
    removeAt(a, 0);
    removeAt(a, 0);
    expect(a).toEqual([]);
  });
});

describe('Bag', () => {
  const item = (name: string) => ({ name, bagAt: -1 });

  it('adds, finds and removes items; the last one moves into the place of one removed', () => {
    const bag = new Bag<{ name: string; bagAt: number }>();
    const [a, b, c] = [item('a'), item('b'), item('c')];
    bag.add(a);
    bag.add(b);
    bag.add(c);
    expect([...bag].map((x) => x.name)).toEqual(['a', 'b', 'c']);
    expect(bag.delete(a)).toBe(true);
    // c took a's place at 0; a is in no bag.
    expect([...bag].map((x) => x.name)).toEqual(['c', 'b']);
    expect([c.bagAt, b.bagAt, a.bagAt]).toEqual([0, 1, -1]);
    expect(bag.has(a)).toBe(false);
    expect(bag.delete(a)).toBe(false);
    expect(bag.size).toBe(2);
    expect(bag.delete(b)).toBe(true); // the last one: nothing moves
    expect([...bag].map((x) => x.name)).toEqual(['c']);
  });

  it('does not mistake an item of another bag at the same position for its own', () => {
    const [one, two] = [new Bag<{ name: string; bagAt: number }>(), new Bag<{ name: string; bagAt: number }>()];
    const [a, b] = [item('a'), item('b')];
    one.add(a);
    two.add(b); // both at position 0
    expect(one.has(b)).toBe(false);
    expect(one.delete(b)).toBe(false);
    expect(two.has(b)).toBe(true);
  });

  it('clear empties it and leaves its items in none', () => {
    const bag = new Bag<{ name: string; bagAt: number }>();
    const [a, b] = [item('a'), item('b')];
    bag.add(a);
    bag.add(b);
    bag.clear();
    expect(bag.size).toBe(0);
    expect([a.bagAt, b.bagAt]).toEqual([-1, -1]);
    expect(bag.has(a)).toBe(false);
  });
});
