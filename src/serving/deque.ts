/**
 * A double-ended queue on a ring buffer that doubles when full: O(1) at both ends however long it grows. A slot is
 * cleared as its item leaves, so the queue keeps nothing alive that it no longer holds (a waiting sequence reaches
 * its request and everything the request's callbacks reach).
 */
export class Deque<T> {
  private items: (T | undefined)[] = new Array<T | undefined>(16);
  /** Position of the front item. */
  private head = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  front(): T | undefined {
    return this.count > 0 ? this.items[this.head] : undefined;
  }

  pushBack(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) & (this.items.length - 1)] = item;
    this.count++;
  }

  pushFront(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.head = (this.head - 1) & (this.items.length - 1);
    this.items[this.head] = item;
    this.count++;
  }

  popFront(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.count--;
    return item;
  }

  clear(): void {
    this.items.fill(undefined);
    this.head = 0;
    this.count = 0;
  }

  /** Front to back. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.count; i++) yield this.items[(this.head + i) & (this.items.length - 1)]!;
  }

  /** Twice the room (a power of two, so positions wrap with a mask), the items moved to the start in order. */
  private grow(): void {
    const next = new Array<T | undefined>(this.items.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) & (this.items.length - 1)];
    this.items = next;
    this.head = 0;
  }
}
