/**
 * A binary min-heap of (time, seq, id) entries in typed arrays, growing by doubling: times in a Float64Array and ids
 * in an Int32Array, both by heap position, and seqs in a Float64Array by id. Entries come out by time, then by seq,
 * so that entries with equal times come out in the order they went in (FIFO) as long as callers hand out increasing
 * seqs. An id is a whole number >= 0 naming one entry while it is in the queue (the kernel's slot numbers); it must
 * not be in the queue twice at once.
 *
 * Why this layout (each measured with `npm run bench`, A/B in one process):
 *  - typed arrays, not objects: with 100k+ pending events a heap of objects spends its time in the garbage collector
 *    and in pointer chasing;
 *  - seqs by id, not by heap position: a seq is only read when two times are equal, so sifting moves two arrays, not
 *    three, and touches two cache lines per level instead of three;
 *  - the root at index 1: a node's two children (2i, 2i+1) are adjacent and start on an even index, so they share a
 *    cache line;
 *  - +Infinity in every time slot past the last entry: a missing right child never wins, so the sift needs no bounds
 *    test for it, and the smaller child is picked with arithmetic, not a branch (which the CPU mispredicts half the
 *    time, on every level);
 *  - a plain class: closures over constant arrays run up to 1.5x faster in V8 while only one heap exists, but lose
 *    that (and more) as soon as a second heap is made, as every sweep does.
 */
export class EventQueue {
  /** times[1..n]: the heap; times[0] unused; times[n+1..] +Infinity. */
  private times: Float64Array;
  /** ids[1..n], by heap position like times. */
  private ids: Int32Array;
  /** seqOf[id]: the seq of the entry with that id. */
  private seqOf: Float64Array;
  private n = 0;
  /** The sum of siftDown's read-ahead values: never used, only there to keep the reads. */
  private readAhead = 0;

  constructor(initialCapacity = 1024) {
    const cap = Math.max(2, initialCapacity | 0);
    this.times = new Float64Array(cap + 2).fill(Infinity);
    this.ids = new Int32Array(cap + 2);
    this.seqOf = new Float64Array(cap);
  }

  /** Entries in the heap. */
  get size(): number {
    return this.n;
  }

  /** Time of the earliest entry; Infinity when empty. */
  peekTime(): number {
    return this.times[1]!; // the sentinel when empty
  }

  /** Seq of the earliest entry; -1 when empty. */
  peekSeq(): number {
    return this.n > 0 ? this.seqOf[this.ids[1]!]! : -1;
  }

  /** Id of the earliest entry; -1 when empty. */
  peekId(): number {
    return this.n > 0 ? this.ids[1]! : -1;
  }

  push(time: number, seq: number, id: number): void {
    if (this.n + 2 >= this.times.length) this.grow();
    this.keepSeq(seq, id);
    const times = this.times;
    const ids = this.ids;
    const seqOf = this.seqOf;
    let i = ++this.n;
    // Sift up: move parents down until the new entry's place is found, then write it once.
    while (i > 1) {
      const p = i >> 1;
      const pt = times[p]!;
      if (pt < time || (pt === time && seqOf[ids[p]!]! < seq)) break;
      times[i] = pt;
      ids[i] = ids[p]!;
      i = p;
    }
    times[i] = time;
    ids[i] = id;
  }

  /** Removes the earliest entry and returns its id; -1 when empty. Read the peek methods first if you need more. */
  pop(): number {
    const n = this.n;
    if (n === 0) return -1;
    const top = this.ids[1]!;
    const time = this.times[n]!;
    const id = this.ids[n]!;
    this.times[n] = Infinity;
    this.n = n - 1;
    // The last entry goes to the root and sifts down among the others.
    if (n > 1) this.siftDown(time, this.seqOf[id]!, id);
    return top;
  }

  /**
   * Replaces the earliest entry with a new one: one sift-down from the root instead of a pop (which sifts the last
   * entry down all the way) and a push. The kernel's hold pattern (an event's handler schedules the next) is exactly
   * this, and the new entry, usually earlier than most pending ones, stops high in the heap. Empty: a push.
   */
  replaceTop(time: number, seq: number, id: number): void {
    if (this.n === 0) {
      this.push(time, seq, id);
      return;
    }
    this.keepSeq(seq, id);
    this.siftDown(time, seq, id);
  }

  clear(): void {
    this.times.fill(Infinity, 0, this.n + 1);
    this.n = 0;
  }

  /**
   * Writes (time, seq, id) at the root, then moves it down to its place among the n entries.
   *
   * Each level also reads the first great-grandchild (8i) of the node it stands on: JS has no prefetch instruction,
   * and this plain read, which nothing waits for, starts fetching the cache line the sift reaches three levels later
   * while this level's comparisons go on. In a large heap the deep levels are cache misses one after another, each
   * waiting for the one before; with the read ahead they overlap (+10-20% at 100k pending, measured).
   */
  private siftDown(time: number, seq: number, id: number): void {
    const times = this.times;
    const ids = this.ids;
    const seqOf = this.seqOf;
    const n = this.n;
    let ahead = 0;
    let i = 1;
    for (;;) {
      let c = 2 * i;
      if (c > n) break;
      const g = 8 * i;
      if (g <= n) ahead += times[g]! + ids[g]!;
      const lt = times[c]!;
      const rt = times[c + 1]!; // +Infinity past the last entry
      if (lt === rt) {
        if (seqOf[ids[c + 1]!]! < seqOf[ids[c]!]!) c++; // a real tie (two sentinels cannot be: c <= n)
      } else {
        c += ((rt < lt) as unknown as number) | 0; // the smaller child, without a branch
      }
      const ct = times[c]!;
      if (time < ct || (time === ct && seq < seqOf[ids[c]!]!)) break;
      times[i] = ct;
      ids[i] = ids[c]!;
      i = c;
    }
    times[i] = time;
    ids[i] = id;
    this.readAhead = ahead; // kept, so that the compiler cannot drop the reads
  }

  private keepSeq(seq: number, id: number): void {
    if (id >= this.seqOf.length) {
      let cap = this.seqOf.length * 2;
      while (cap <= id) cap *= 2;
      const seqOf = new Float64Array(cap);
      seqOf.set(this.seqOf);
      this.seqOf = seqOf;
    }
    this.seqOf[id] = seq;
  }

  private grow(): void {
    const cap = (this.times.length - 2) * 2;
    const times = new Float64Array(cap + 2).fill(Infinity);
    const ids = new Int32Array(cap + 2);
    times.set(this.times.subarray(0, this.n + 1));
    ids.set(this.ids.subarray(0, this.n + 1));
    this.times = times;
    this.ids = ids;
  }
}
