/**
 * A binary min-heap of (time, seq, id) entries in typed arrays: times and seqs in Float64Arrays, ids in an Int32Array,
 * growing by doubling. Entries come out by time, then by seq, so that entries with equal times come out in the order
 * they went in (FIFO) as long as callers hand out increasing seqs.
 *
 * Why typed arrays: with 100k+ pending events a heap of objects spends its time in the garbage collector and in
 * pointer chasing. Why a plain class: closures over constant arrays run up to 1.5x faster in V8 while only one heap
 * exists, but lose that (and more) as soon as a second heap is made, as every sweep does; measured in `npm run bench`.
 */
export class EventQueue {
  private times: Float64Array;
  private seqs: Float64Array;
  private ids: Int32Array;
  private n = 0;

  constructor(initialCapacity = 1024) {
    const cap = Math.max(2, initialCapacity | 0);
    this.times = new Float64Array(cap);
    this.seqs = new Float64Array(cap);
    this.ids = new Int32Array(cap);
  }

  /** Entries in the heap. */
  get size(): number {
    return this.n;
  }

  /** Time of the earliest entry; Infinity when empty. */
  peekTime(): number {
    return this.n > 0 ? this.times[0]! : Infinity;
  }

  /** Seq of the earliest entry; -1 when empty. */
  peekSeq(): number {
    return this.n > 0 ? this.seqs[0]! : -1;
  }

  /** Id of the earliest entry; -1 when empty. */
  peekId(): number {
    return this.n > 0 ? this.ids[0]! : -1;
  }

  push(time: number, seq: number, id: number): void {
    if (this.n === this.times.length) this.grow();
    const times = this.times;
    const seqs = this.seqs;
    const ids = this.ids;
    let i = this.n++;
    // Sift up: move parents down until the new entry's place is found, then write it once.
    while (i > 0) {
      const p = (i - 1) >> 1;
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

  /** Removes the earliest entry and returns its id; -1 when empty. Read the peek methods first if you need more. */
  pop(): number {
    const n = this.n;
    if (n === 0) return -1;
    const top = this.ids[0]!;
    const last = n - 1;
    this.n = last;
    // The last entry goes to the root and sifts down among the others.
    if (last > 0) this.siftDown(this.times[last]!, this.seqs[last]!, this.ids[last]!, last);
    return top;
  }

  /**
   * Replaces the earliest entry with a new one: one sift-down from the root instead of a pop (which sifts the last
   * entry down all the way) and a push. The kernel's hold pattern (an event's handler schedules the next) is exactly
   * this, and the new entry, usually earlier than most pending ones, stops high in the heap. Empty: a push.
   */
  replaceTop(time: number, seq: number, id: number): void {
    if (this.n === 0) this.push(time, seq, id);
    else this.siftDown(time, seq, id, this.n);
  }

  clear(): void {
    this.n = 0;
  }

  /** Writes (time, seq, id) at the root of the first `n` entries, then moves it down to its place. */
  private siftDown(time: number, seq: number, id: number, n: number): void {
    const times = this.times;
    const seqs = this.seqs;
    const ids = this.ids;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n) {
        const ct = times[c]!;
        const rt = times[r]!;
        if (rt < ct || (rt === ct && seqs[r]! < seqs[c]!)) c = r;
      }
      const ct = times[c]!;
      if (time < ct || (time === ct && seq < seqs[c]!)) break;
      times[i] = ct;
      seqs[i] = seqs[c]!;
      ids[i] = ids[c]!;
      i = c;
    }
    times[i] = time;
    seqs[i] = seq;
    ids[i] = id;
  }

  private grow(): void {
    const cap = this.times.length * 2;
    const times = new Float64Array(cap);
    const seqs = new Float64Array(cap);
    const ids = new Int32Array(cap);
    times.set(this.times);
    seqs.set(this.seqs);
    ids.set(this.ids);
    this.times = times;
    this.seqs = seqs;
    this.ids = ids;
  }
}
