/**
 * Small collections for the simulation's hot paths, which fill and empty on every event or request. Two behaviours of
 * V8 make the obvious choices allocate there: setting an array's length to 0 gives its storage up (the next push
 * allocates it again), and a Map or Set filled and emptied one entry at a time reallocates its table again and again,
 * in the old generation once the Map lives there, where the dead tables keep young objects alive through scavenges.
 */

/** Shortens `items` to its first `n` entries and keeps its storage (popping only trims it when it is far too large). */
export function truncate<T>(items: T[], n: number): void {
  while (items.length > n) items.pop();
}

/**
 * Removes items[at] (0 <= at), keeping the order of the rest: `items.splice(at, 1)` without the array that splice
 * returns, and without giving up the storage when the last item goes.
 */
export function removeAt<T>(items: T[], at: number): void {
  if (at >= items.length) return;
  for (let i = at; i < items.length - 1; i++) items[i] = items[i + 1]!;
  items.pop();
}

/** What a Bag needs of its items: a field for the position it keeps them at (absent or -1 when in none). */
export interface Bagged {
  bagAt?: number;
}

/**
 * Items in no particular order, each keeping its position in its own `bagAt`: O(1) to add, find and remove, without
 * hashing. An item is in one Bag at most at a time.
 */
export class Bag<T extends Bagged> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  has(item: T): boolean {
    return this.items[item.bagAt ?? -1] === item;
  }

  add(item: T): void {
    item.bagAt = this.items.length;
    this.items.push(item);
  }

  /** Removes the item (the last one takes its place); false if it was not in this bag. */
  delete(item: T): boolean {
    const at = item.bagAt ?? -1;
    if (this.items[at] !== item) return false;
    const last = this.items.pop()!;
    if (last !== item) {
      this.items[at] = last;
      last.bagAt = at;
    }
    item.bagAt = -1;
    return true;
  }

  /** Empties the bag. */
  clear(): void {
    for (const item of this.items) item.bagAt = -1;
    truncate(this.items, 0);
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.items[Symbol.iterator]();
  }
}

/** What an LruList needs of its items: links to their neighbours (null at the ends, and while in no list). */
export interface Linked<T> {
  prev: T | null;
  next: T | null;
}

/**
 * Items in least-recently-used order, linked through their own `prev` / `next`: O(1) to append, move to the recent end
 * and remove, with no hashing and no allocation. A Map's delete-then-set does the same in insertion order, but on a
 * large Map that churn rebuilds its table again and again (the KV pool and the host tier refresh a block on every hit).
 * Written by hand: js-sdsl's LinkList removes by iterator, an object a node, and finds no node by its item. An item is
 * in one list at most at a time; the caller knows which.
 */
export class LruList<T extends Linked<T>> {
  private head: T | null = null;
  private tail: T | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The least recently used item, or null. */
  get oldest(): T | null {
    return this.head;
  }

  /** Adds `item` (in no list) at the recent end. */
  push(item: T): void {
    item.prev = this.tail;
    item.next = null;
    if (this.tail) this.tail.next = item;
    else this.head = item;
    this.tail = item;
    this.count++;
  }

  /** Takes `item` (in this list) out. */
  remove(item: T): void {
    if (item.prev) item.prev.next = item.next;
    else this.head = item.next;
    if (item.next) item.next.prev = item.prev;
    else this.tail = item.prev;
    item.prev = null;
    item.next = null;
    this.count--;
  }

  /** Moves `item` (in this list) to the recent end. */
  touch(item: T): void {
    if (this.tail === item) return;
    this.remove(item);
    this.push(item);
  }

  clear(): void {
    this.head = null;
    this.tail = null;
    this.count = 0;
  }
}
