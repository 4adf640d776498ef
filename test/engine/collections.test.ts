import { describe, expect, it } from 'vitest';
import { Bag, LruList, removeAt, truncate } from '../../src/engine/index.js';

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

describe('LruList', () => {
  interface Item {
    name: string;
    prev: Item | null;
    next: Item | null;
  }
  const item = (name: string): Item => ({ name, prev: null, next: null });
  const names = (l: LruList<Item>): string[] => {
    const out: string[] = [];
    for (let x = l.oldest; x; x = x.next) out.push(x.name);
    return out;
  };

  it('keeps items least recently used first: push at the recent end, touch moves there, remove takes out', () => {
    const l = new LruList<Item>();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(item) as [Item, Item, Item, Item];
    for (const x of [a, b, c]) l.push(x);
    expect(names(l)).toEqual(['a', 'b', 'c']);
    l.touch(a); // a used again: now the most recent
    expect(names(l)).toEqual(['b', 'c', 'a']);
    l.touch(a); // already the most recent: no change
    l.remove(c); // from the middle
    expect(names(l)).toEqual(['b', 'a']);
    expect([c.prev, c.next]).toEqual([null, null]);
    l.remove(b); // the oldest
    l.push(d);
    expect(names(l)).toEqual(['a', 'd']);
    expect(l.size).toBe(2);
    expect(l.oldest).toBe(a);
    l.remove(d); // the most recent
    l.remove(a);
    expect(l.size).toBe(0);
    expect(l.oldest).toBeNull();
    l.push(c);
    expect(names(l)).toEqual(['c']);
  });
});
