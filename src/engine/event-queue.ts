/**
 * The kernel's queue: a binary min-heap of (time, seq, id) entries ordered by time, then seq. The kernel hands out
 * increasing seqs, so entries at equal times come out in the order they went in. An id is an int32 the caller picks
 * (the kernel's: a slot of its callback table).
 *
 * Typed arrays by heap position, growing by doubling: no object per entry, no garbage. The root is at index 1, so a
 * node's two children (2i, 2i + 1) sit side by side, and every time past the last entry is +Infinity, so a missing
 * right child never wins and needs no test. pop() moves the hole left at the root down to a leaf along the smaller
 * children (one comparison a level) and fills it with the last entry, which belongs near the bottom anyway.
 */
export class EventQueue {
  private times: Float64Array;
  private seqs: Float64Array;
  private ids: Int32Array;
  private n = 0;

  constructor(capacity = 1024) {
    const cap = Math.max(2, capacity | 0) + 2;
    this.times = new Float64Array(cap).fill(Infinity);
    this.seqs = new Float64Array(cap);
    this.ids = new Int32Array(cap);
  }

  /** Entries queued. */
  get size(): number {
    return this.n;
  }

  /** Time of the earliest entry; Infinity when empty. */
  peekTime(): number {
    return this.times[1]!;
  }

  /** Id of the earliest entry; -1 when empty. */
  peekId(): number {
    return this.n > 0 ? this.ids[1]! : -1;
  }

  push(time: number, seq: number, id: number): void {
    if (this.n + 2 >= this.times.length) this.grow();
    const i = ++this.n;
    this.times[i] = time;
    this.seqs[i] = seq;
    this.ids[i] = id;
    this.siftUp(i);
  }

  /** Removes the earliest entry and returns its id; -1 when empty. */
  pop(): number {
    const n = this.n;
    if (n === 0) return -1;
    const times = this.times;
    const seqs = this.seqs;
    const ids = this.ids;
    const top = ids[1]!;
    const lastTime = times[n]!;
    times[n] = Infinity;
    const m = (this.n = n - 1);
    let i = 1;
    for (let c = 2; c <= m; c = 2 * i) {
      const lt = times[c]!;
      const rt = times[c + 1]!; // +Infinity past the last entry
      if (lt === rt) {
        if (seqs[c + 1]! < seqs[c]!) c++;
      } else {
        c += ((rt < lt) as unknown as number) | 0; // the smaller child without a branch, which would be mispredicted
      }
      times[i] = times[c]!;
      seqs[i] = seqs[c]!;
      ids[i] = ids[c]!;
      i = c;
    }
    if (i < n) {
      times[i] = lastTime;
      seqs[i] = seqs[n]!;
      ids[i] = ids[n]!;
      this.siftUp(i);
    }
    return top;
  }

  /**
   * Drops every entry whose id fails keep(id) (keep may also free the id) and rebuilds the heap from the rest: the
   * order they come out in is unchanged, as it depends on (time, seq) alone.
   */
  compact(keep: (id: number) => boolean): void {
    const times = this.times;
    const seqs = this.seqs;
    const ids = this.ids;
    const n = this.n;
    let m = 0;
    for (let i = 1; i <= n; i++) {
      if (!keep(ids[i]!)) continue;
      m++;
      times[m] = times[i]!;
      seqs[m] = seqs[i]!;
      ids[m] = ids[i]!;
    }
    times.fill(Infinity, m + 1, n + 1);
    this.n = m;
    for (let i = 2; i <= m; i++) this.siftUp(i);
  }

  /** Moves the entry at position i up: parents move down until its place is found, then it is written once. */
  private siftUp(at: number): void {
    const times = this.times;
    const seqs = this.seqs;
    const ids = this.ids;
    const time = times[at]!;
    const seq = seqs[at]!;
    const id = ids[at]!;
    let i = at;
    while (i > 1) {
      const p = i >> 1;
      const pt = times[p]!;
      if (pt < time || (pt === time && seqs[p]! < seq)) break;
      times[i] = pt;
      seqs[i] = seqs[p]!;
      ids[i] = ids[p]!;
      i = p;
    }
    times[i] = time;
    seqs[i] = seq;
    ids[i] = id;
  }

  private grow(): void {
    const cap = this.times.length * 2;
    const times = new Float64Array(cap).fill(Infinity);
    times.set(this.times);
    const seqs = new Float64Array(cap);
    seqs.set(this.seqs);
    const ids = new Int32Array(cap);
    ids.set(this.ids);
    this.times = times;
    this.seqs = seqs;
    this.ids = ids;
  }
}
