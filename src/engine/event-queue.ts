import { InvariantError } from '../errors.js';

/**
 * The kernel's priority queue of (time, seq, id) entries. Entries come out by time, then by seq, so that entries
 * with equal times come out in the order they went in (FIFO) as long as callers hand out increasing seqs. An id is
 * a whole number >= 0 naming one entry while it is queued (the kernel's: a slot and a callback code, see warmOnMove).
 *
 * The order is kept by a binary min-heap in typed arrays, growing by doubling: times and seqs in Float64Arrays and
 * ids in an Int32Array, by heap position. While the heap has fewer than `tierAbove` entries (8,192 by default) it
 * holds them all. Past that, the far future waits, unsorted, in time buckets (a one-rung ladder queue), and the
 * near future is the "run" (the bucket moved last, sorted) and the heap (entries added since for times before the
 * next bucket):
 *  - when run and heap are both empty, the next bucket moves: sorted into the run (see sortIntoRun), or pushed into
 *    the heap when its times are too bunched to sort cheaply. When the buckets run out, the entries beyond them (the
 *    "top": everything later than the last bucket) are spread over new buckets, about `bucketSize` each at the time,
 *    across their own range of times (fewer than two buckets' worth, or all at one time, go to the heap instead, and
 *    the queue is heap only again until the heap doubles);
 *  - a new entry goes to the heap if it falls before the next bucket, into its bucket if it falls within the
 *    buckets, and to the top beyond them;
 *  - the earliest entry is the run's next or the heap's root, whichever is earlier by (time, seq).
 * A bucket is chosen by a function of the time that never decreases as the time grows, so an entry in a later
 * bucket is always strictly later than one in an earlier bucket, the run or the heap; run and heap are each in
 * (time, seq) order. So the order out is exactly the heap-only order, ties included. A fast-check test holds the
 * queue, with tiny tiers, to js-sdsl's PriorityQueue.
 *
 * Why (measured with `npm run bench`, builds alternated batch by batch in one process): with 100k entries a binary
 * heap is 17 levels deep, each hold walks almost all of them (a new event's rank is uniform, so it sinks to the
 * bottom), and the deep levels are cache misses in 1.2 MB of arrays. With the buckets a far entry costs one append,
 * and its bucket is later sorted in a few passes over data in cache; taking the next entry from the run is an index
 * step (a heap of the same few hundred entries cost 1.4x as much in all, measured). While a bucket's entries run,
 * the next bucket's entries and their lines of the kernel's slot table are read (touchChain, warmOnMove), so those
 * misses overlap in a batch instead of coming one per event. Entries carry their seq (no array by id written per
 * event, which was another miss).
 *
 * Heap layout choices, each measured: typed arrays, not objects (no garbage, no pointer chasing); the root at index
 * 1, so that a node's two children share a cache line; +Infinity in every time slot past the last entry, so a missing
 * right child never wins and the smaller child is picked with arithmetic, not a mispredicted branch; pops that move
 * the hole down to a leaf and fill it from the bottom (one comparison a level); a plain class (closures over constant
 * arrays are faster only while a single queue exists in the process).
 */
export interface EventQueueOptions {
  /**
   * Heap size past which far entries move to buckets (default 8,192: a heap that size still fits the L2 cache, and
   * up to it the heap alone is faster, measured).
   */
  tierAbove?: number;
  /** Entries per bucket when the top is spread over buckets (default 32). */
  bucketSize?: number;
}

/** destination() of an entry for the heap and for the top (a bucket is a number >= 0). */
const HEAP = -1;
const TOP = -2;
/** Entries per chunk: a bucket is a chain of chunks, so appends and moves touch memory in order. */
const CHUNK = 16;
/** Most entries one sub-range of a bucket may hold for the bucket to be sorted into the run (see sortIntoRun). */
const BUNCH = 16;

export class EventQueue {
  /** times[1..n]: the heap; times[0] unused; times[n+1..] +Infinity. */
  private times: Float64Array;
  /** seqs[1..n] and ids[1..n], by heap position like times. */
  private seqs: Float64Array;
  private ids: Int32Array;
  /** Entries in the heap. */
  private n = 0;
  /**
   * The time of the entry being added: pushStaged and replaceTopStaged read it from here, and so do the private
   * methods that move entries. A double handed to a call that V8 does not inline is boxed, an allocation per event
   * on the hot path (measured); a typed array slot is not.
   */
  readonly staged = new Float64Array(1);

  // --- the far future (empty while the queue is heap only) ---
  /** Entries in buckets and top. */
  private far = 0;
  /** Heap size at which the queue turns tiered. */
  private tierAt: number;
  private readonly tierAbove: number;
  private readonly bucketSize: number;
  /**
   * Entries at times <= split go to the heap or a bucket, later ones to the top. +Infinity: heap only (no buckets,
   * no top). -Infinity: everything goes to the top until the next spread.
   */
  private split = Infinity;
  /** Buckets in use (0..nb-1), the next one to move into the heap (cur), and bucket(t) = floor((t - base) * scale). */
  private nb = 0;
  private cur = 0;
  private base = 0;
  private scale = 0;
  /** Each bucket's chunk chain: its first chunk (-1: empty). */
  private head: Int32Array = new Int32Array(0);
  /**
   * Where appends go, two numbers per chain: its last chunk (-1: none yet) and the entries in that chunk (CHUNK
   * when there is no chunk, so that "full or none" is one comparison). The top's at 0, bucket b's at 2b + 2. Side by
   * side, so that an append reads one line before it writes the entry, not the chain's last chunk and then that
   * chunk's count (two misses one after the other: registered hold at 100k 1.08x, measured). cLen holds a last
   * chunk's count only once settle() has copied it there.
   */
  private ends: Int32Array = Int32Array.of(-1, CHUNK);
  /** The top, a chunk chain; its earliest and latest times. */
  private topHead = -1;
  private topCount = 0;
  private topMin = Infinity;
  private topMax = -Infinity;
  /**
   * Chunk pool: CHUNK entries each, stored (time, seq, id) side by side so that an append writes one cache line, a
   * fill count (for a chain's last chunk, see ends) and the next chunk in its chain (or the free list).
   */
  private cData: Float64Array = new Float64Array(0);
  private cLen: Int32Array = new Int32Array(0);
  private cNext: Int32Array = new Int32Array(0);
  private freeChunk = -1;
  /**
   * The run: the last bucket moved out of the far future, sorted by (time, seq), (time, seq, id) side by side (one
   * cache line read per entry taken, not three: hold at 100k 1.04x, measured), read from rPos up to rEnd (offsets
   * in the array, 3 an entry); run[rEnd] is +Infinity. Entries that arrive for times before the next bucket go to
   * the heap, and the earliest entry is the run's next or the heap's root, whichever comes first.
   */
  private run: Float64Array = new Float64Array(3).fill(Infinity);
  private rPos = 0;
  private rEnd = 0;
  /** Scratch for sorting a bucket into the run: each entry's sub-range, and how many entries fall in each. */
  private keys: Int32Array = new Int32Array(0);
  private counts: Int32Array = new Int32Array(0);
  /** The owner's per-slot table, entries a slot, and how to get a slot from an id (see warmOnMove). */
  private warmTable: readonly unknown[] | undefined = undefined;
  private warmStride = 1;
  private warmShift = 0;
  /** Whether any entry may have a table line (see warmOnMove); asked once a bucket. */
  private warmAny: () => boolean = () => true;
  /** What touchChain reads, folded in: never used, only there so that the reads are not dropped. */
  private sink = 0;

  constructor(initialCapacity = 1024, options: EventQueueOptions = {}) {
    const cap = Math.max(2, initialCapacity | 0);
    this.times = new Float64Array(cap + 2).fill(Infinity);
    this.seqs = new Float64Array(cap + 2);
    this.ids = new Int32Array(cap + 2);
    this.tierAbove = Math.max(2, options.tierAbove ?? 8192);
    this.bucketSize = Math.max(1, options.bucketSize ?? 32);
    this.tierAt = this.tierAbove;
  }

  /** Entries queued. */
  get size(): number {
    return this.n + this.far + (this.rEnd - this.rPos) / 3;
  }

  /** Time of the earliest entry; Infinity when empty. (The peeks move the next bucket in when heap and run are empty.) */
  peekTime(): number {
    this.fillFront();
    const rt = this.run[this.rPos]!;
    const ht = this.times[1]!;
    return rt < ht ? rt : ht; // the sentinels when empty
  }

  /** Seq of the earliest entry; -1 when empty. */
  peekSeq(): number {
    this.fillFront();
    if (this.runFirst()) return this.run[this.rPos + 1]!;
    return this.n > 0 ? this.seqs[1]! : -1;
  }

  /**
   * Id of the earliest entry (-1 when empty), with its time written to staged[0] (Infinity when empty): peekTime()
   * and peekId() in one, for the kernel's loop.
   */
  peekStaged(): number {
    this.fillFront();
    if (this.runFirst()) {
      this.staged[0] = this.run[this.rPos]!;
      return this.run[this.rPos + 2]!;
    }
    this.staged[0] = this.times[1]!; // the sentinel when empty
    return this.n > 0 ? this.ids[1]! : -1;
  }

  /** Id of the earliest entry; -1 when empty. */
  peekId(): number {
    this.fillFront();
    if (this.runFirst()) return this.run[this.rPos + 2]!;
    return this.n > 0 ? this.ids[1]! : -1;
  }

  push(time: number, seq: number, id: number): void {
    this.staged[0] = time;
    this.pushStaged(seq, id);
  }

  /** push() with the time already written to staged[0]. */
  pushStaged(seq: number, id: number): void {
    const to = this.destination(this.staged[0]!);
    if (to === HEAP) this.heapPush(seq, id);
    else if (to === TOP) this.topPush(seq, id);
    else this.bucketPush(to, seq, id);
  }

  /** Removes the earliest entry and returns its id; -1 when empty. Read the peek methods first if you need more. */
  pop(): number {
    this.fillFront();
    if (this.runFirst()) {
      const id = this.run[this.rPos + 2]!;
      this.rPos += 3;
      return id;
    }
    if (this.n === 0) return -1;
    const top = this.ids[1]!;
    this.popRoot();
    return top;
  }

  /**
   * Replaces the earliest entry with a new one. When the new entry belongs in the heap this is one sift down from
   * the root instead of a pop and a push: the kernel's hold pattern (an event's handler schedules the next) is
   * exactly this. Empty: a push.
   */
  replaceTop(time: number, seq: number, id: number): void {
    this.staged[0] = time;
    this.replaceTopStaged(seq, id);
  }

  /** replaceTop() with the time already written to staged[0]. */
  replaceTopStaged(seq: number, id: number): void {
    const time = this.staged[0]!;
    if (this.n === 0 && this.rPos === this.rEnd) {
      this.fillFront(); // moves entries through staged[0]
      this.staged[0] = time;
      if (this.n === 0 && this.rPos === this.rEnd) {
        this.pushStaged(seq, id);
        return;
      }
    }
    const to = this.destination(time);
    if (this.runFirst()) {
      this.rPos += 3;
      if (to === HEAP) {
        this.heapPush(seq, id);
        return;
      }
    } else if (to === HEAP) {
      this.times[1] = time;
      this.seqs[1] = seq;
      this.ids[1] = id;
      this.siftDown();
      return;
    } else {
      this.popRoot();
    }
    if (to === TOP) this.topPush(seq, id);
    else this.bucketPush(to, seq, id);
  }

  /**
   * Asks the queue to read the owner's table line of each entry of the next bucket while the current one runs (and
   * of a bucket it pushes into the heap). The owner's ids are `slot << shift | code`; for code 0 the line read is
   * `table[slot * stride]`, other codes have none. The kernel keeps such events' callbacks in a table by slot and
   * reads it when the event runs: in a large queue that read is a cache miss per event, one after another. Read a
   * bucket ahead, a batch of misses overlap, and the lines are in cache when the events run.
   * `any` says whether the table is in use at all: when it is not (every event a registered one), only the bucket's
   * own lines are read, one read a line, which lets more of those misses overlap than a read of every entry's id
   * (registered hold at 100k 1.04x, measured).
   */
  warmOnMove(table: readonly unknown[], stride: number, shift: number, any: () => boolean = () => true): void {
    this.warmTable = table;
    this.warmStride = stride;
    this.warmShift = shift;
    this.warmAny = any;
  }

  /** When heap and run are empty and the far future is not, moves the next bucket in (peeks, pop, replaceTop). */
  private fillFront(): void {
    if (this.n === 0 && this.far > 0 && this.rPos === this.rEnd) this.refill();
  }

  /** Whether the run's next entry comes before the heap's root (false when the run is empty). */
  private runFirst(): boolean {
    const rt = this.run[this.rPos]!;
    const ht = this.times[1]!;
    return rt < ht || (rt === ht && rt !== Infinity && this.run[this.rPos + 1]! < this.seqs[1]!);
  }

  // --- the heap ---

  /**
   * Adds an entry to the heap. The sifts take no arguments and read the moving entry from the arrays: a double
   * handed to a call that V8 does not inline is boxed, one allocation per event on the hot path (measured).
   */
  private heapPush(seq: number, id: number): void {
    if (this.n + 2 >= this.times.length) this.grow();
    const i = ++this.n;
    this.times[i] = this.staged[0]!;
    this.seqs[i] = seq;
    this.ids[i] = id;
    this.siftUp(i);
    if (this.n >= this.tierAt && this.split === Infinity) this.turnTiered();
  }

  /** Moves the entry at position i up: parents move down until its place is found, then it is written once. */
  private siftUp(at: number): void {
    const times = this.times;
    const seqs = this.seqs;
    const ids = this.ids;
    let i = at;
    const time = times[i]!;
    const seq = seqs[i]!;
    const id = ids[i]!;
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

  /**
   * Removes the heap's root. Bottom-up: the hole left at the root moves down to a leaf along the smaller children
   * (one comparison a level), then the last entry, which belongs near the bottom anyway, fills it and sifts up.
   */
  private popRoot(): void {
    const n = this.n;
    const times = this.times;
    const seqs = this.seqs;
    const ids = this.ids;
    const last = n - 1; // entries left
    let i = 1;
    for (;;) {
      let c = 2 * i;
      if (c > last) break;
      const lt = times[c]!;
      const rt = c < last ? times[c + 1]! : Infinity; // the last entry (at n) is not a candidate
      if (lt === rt) {
        if (c < last && seqs[c + 1]! < seqs[c]!) c++;
      } else {
        c += ((rt < lt) as unknown as number) | 0;
      }
      times[i] = times[c]!;
      seqs[i] = seqs[c]!;
      ids[i] = ids[c]!;
      i = c;
    }
    // The hole is at i (never n, except when n is 1); the last entry fills it and sifts up from there.
    this.n = last;
    if (i !== n) {
      times[i] = times[n]!;
      seqs[i] = seqs[n]!;
      ids[i] = ids[n]!;
    }
    times[n] = Infinity;
    if (i !== n) this.siftUp(i);
  }

  /** Moves the entry at the root down to its place among the n entries. */
  private siftDown(): void {
    const times = this.times;
    const seqs = this.seqs;
    const ids = this.ids;
    const n = this.n;
    const time = times[1]!;
    const seq = seqs[1]!;
    const id = ids[1]!;
    let i = 1;
    for (;;) {
      let c = 2 * i;
      if (c > n) break;
      const lt = times[c]!;
      const rt = times[c + 1]!; // +Infinity past the last entry
      if (lt === rt) {
        if (seqs[c + 1]! < seqs[c]!) c++; // a real tie (two sentinels cannot be: c <= n)
      } else {
        c += ((rt < lt) as unknown as number) | 0; // the smaller child, without a branch
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
    const cap = (this.times.length - 2) * 2;
    const times = new Float64Array(cap + 2).fill(Infinity);
    const seqs = new Float64Array(cap + 2);
    const ids = new Int32Array(cap + 2);
    times.set(this.times.subarray(0, this.n + 1));
    seqs.set(this.seqs.subarray(0, this.n + 1));
    ids.set(this.ids.subarray(0, this.n + 1));
    this.times = times;
    this.seqs = seqs;
    this.ids = ids;
  }

  // --- the far future ---

  /**
   * Where an entry at this time goes: the heap (HEAP) if it falls before the next bucket (or the queue is heap only),
   * the top (TOP) beyond the buckets, else its bucket. The bucket, floor((time - base) * scale) capped at the last
   * one, never decreases as the time grows: subtraction, product and floor are all monotone.
   */
  private destination(time: number): number {
    if (time > this.split) return TOP; // split is -Infinity while everything goes to the top
    if (this.cur >= this.nb) return HEAP; // heap only (split +Infinity), or the buckets are used up
    const b = Math.min(this.nb - 1, Math.floor((time - this.base) * this.scale));
    return b < this.cur ? HEAP : b;
  }

  /** A far entry into bucket b. */
  private bucketPush(b: number, seq: number, id: number): void {
    this.far++;
    const started = this.append(2 * b + 2, seq, id);
    if (started >= 0) this.head[b] = started;
  }

  /** A far entry beyond the buckets. */
  private topPush(seq: number, id: number): void {
    const time = this.staged[0]!;
    this.far++;
    const started = this.append(0, seq, id);
    if (started >= 0) this.topHead = started;
    this.topCount++;
    if (time < this.topMin) this.topMin = time;
    if (time > this.topMax) this.topMax = time;
  }

  /**
   * Appends to the chain whose end is at ends[e] (see ends); returns the chunk it wrote to when that chunk starts the
   * chain (the caller's head), else -1.
   */
  private append(e: number, seq: number, id: number): number {
    const ends = this.ends;
    let c = ends[e]!;
    let k = ends[e + 1]!;
    let started = -1;
    if (k === CHUNK) {
      const fresh = this.newChunk();
      if (c >= 0) {
        this.cLen[c] = CHUNK;
        this.cNext[c] = fresh;
      } else {
        started = fresh;
      }
      c = fresh;
      k = 0;
      ends[e] = c;
    }
    const at = (c * CHUNK + k) * 3;
    const data = this.cData; // after newChunk, which may grow it
    data[at] = this.staged[0]!;
    data[at + 1] = seq;
    data[at + 2] = id;
    ends[e + 1] = k + 1;
    return started;
  }

  /** Copies the count of the last chunk of the chain whose end is at ends[e] to cLen, where chain readers look. */
  private settle(e: number): void {
    const c = this.ends[e]!;
    if (c >= 0) this.cLen[c] = this.ends[e + 1]!;
  }

  /** Settles the chain whose end is at ends[e] and starts it anew, empty. */
  private close(e: number): void {
    this.settle(e);
    this.ends[e] = -1;
    this.ends[e + 1] = CHUNK;
  }

  private newChunk(): number {
    if (this.freeChunk < 0) this.growChunks();
    const c = this.freeChunk;
    this.freeChunk = this.cNext[c]!;
    this.cLen[c] = 0;
    this.cNext[c] = -1;
    return c;
  }

  private growChunks(): void {
    const old = this.cLen.length;
    const cap = Math.max(64, old * 2);
    const data = new Float64Array(cap * CHUNK * 3);
    const len = new Int32Array(cap);
    const next = new Int32Array(cap);
    data.set(this.cData);
    len.set(this.cLen);
    next.set(this.cNext);
    this.cData = data;
    this.cLen = len;
    this.cNext = next;
    for (let c = cap - 1; c >= old; c--) {
      next[c] = this.freeChunk;
      this.freeChunk = c;
    }
  }

  /** The heap has reached tierAt entries: all of them go to the top, to be spread over buckets at the next refill. */
  private turnTiered(): void {
    const times = this.times;
    const n = this.n;
    this.split = -Infinity;
    this.nb = 0;
    this.cur = 0;
    for (let i = 1; i <= n; i++) {
      this.staged[0] = times[i]!;
      this.topPush(this.seqs[i]!, this.ids[i]!);
      times[i] = Infinity;
    }
    this.n = 0;
  }

  /** The heap is empty and the far future is not: moves the next bucket into the heap, spreading the top if needed. */
  private refill(): void {
    for (;;) {
      while (this.cur < this.nb) {
        const b = this.cur++;
        const c = this.head[b]!;
        if (c >= 0) {
          this.head[b] = -1;
          this.close(2 * b + 2);
          if (!this.sortIntoRun(c, b)) this.drainChain(c, true);
          if (this.cur < this.nb) {
            this.settle(2 * this.cur + 2); // it takes more entries before it moves: settled again then
            this.touchChain(this.head[this.cur]!);
          }
          if (this.n > 0 || this.rPos < this.rEnd) return;
        }
      }
      this.spreadTop();
      if (this.n > 0 || this.rPos < this.rEnd) return;
    }
  }

  /**
   * Reads a chunk chain and, while the owner's table is in use (see warmOnMove), its entries' lines there: entries
   * written long ago are out of cache, and so are their table lines. Called for the next bucket while this one's
   * entries run, and before a chain is pushed into the heap, so that the misses overlap in one loop instead of
   * coming one per event.
   */
  private touchChain(first: number): void {
    const data = this.cData;
    const table = this.warmTable !== undefined && this.warmAny() ? this.warmTable : undefined;
    const stride = this.warmStride;
    const shift = this.warmShift;
    const codeMask = (1 << shift) - 1;
    let sum = 0;
    for (let c = first; c >= 0; c = this.cNext[c]!) {
      const at = c * CHUNK * 3;
      const end = at + this.cLen[c]! * 3;
      if (table === undefined) {
        for (let k = at; k < end; k += 8) sum += data[k]!; // one read a cache line
      } else {
        for (let k = at + 2; k < end; k += 3) {
          const id = data[k]! | 0;
          if ((id & codeMask) === 0 && table[(id >> shift) * stride] === undefined) sum++;
        }
      }
    }
    this.sink += sum;
  }

  /** Pushes every entry of a chunk chain into the heap (their slot-table lines read first) and frees the chunks. */
  private moveChain(first: number): void {
    this.touchChain(first);
    this.drainChain(first, true);
  }

  /**
   * Moves bucket b's entries (the chunk chain from `first`) into the run, sorted by (time, seq), and frees the
   * chunks; false, with nothing moved, when there is one entry, or they are too bunched in time to sort this way
   * (they then go to the heap).
   * A distribution sort: the bucket's range of times is cut into as many equal sub-ranges as it has entries, each
   * entry is placed after the entries of earlier sub-ranges (a sub-range is a non-decreasing function of the time),
   * and an insertion sort puts each sub-range in order by (time, seq). With times spread over the bucket a sub-range
   * holds one or two entries, so all of it is a few passes over data already in cache; a sub-range holding more
   * than BUNCH entries (a crowd at one time, say) would make the insertion sort quadratic, and sends the bucket to the
   * heap instead.
   */
  private sortIntoRun(first: number, b: number): boolean {
    const data = this.cData;
    const cLen = this.cLen;
    const cNext = this.cNext;
    let count = 0;
    for (let c = first; c >= 0; c = cNext[c]!) count += cLen[c]!;
    if (count < 2) return false;
    // Sub-range of time t: floor(count * (u - b)), u = (t - base) * scale computed as destination() does, so that
    // u >= b for every entry of bucket b (u may pass b + 1 only in the last bucket: the cap catches it).
    const base = this.base;
    const scale = this.scale;
    if (this.keys.length < count) {
      this.keys = new Int32Array(count * 2);
      this.counts = new Int32Array(count * 2);
    }
    const keys = this.keys;
    const counts = this.counts;
    counts.fill(0, 0, count);
    let i = 0;
    for (let c = first; c >= 0; c = cNext[c]!) {
      for (let at = c * CHUNK * 3, end = at + cLen[c]! * 3; at < end; at += 3) {
        const k = Math.min(count - 1, Math.floor(((data[at]! - base) * scale - b) * count));
        keys[i++] = k;
        counts[k]!++;
      }
    }
    // counts[k] becomes where sub-range k starts.
    let sum = 0;
    let most = 0;
    for (let k = 0; k < count; k++) {
      const m = counts[k]!;
      if (m > most) most = m;
      counts[k] = sum;
      sum += m;
    }
    if (most > BUNCH) return false;
    if (this.run.length <= count * 3) {
      // Only now: a bunched bucket leaves the (empty) run as it was, its sentinel included.
      this.run = new Float64Array(count * 6 + 3);
    }
    const run = this.run;
    i = 0;
    for (let c = first; c >= 0; ) {
      for (let at = c * CHUNK * 3, end = at + cLen[c]! * 3; at < end; at += 3) {
        const p = counts[keys[i++]!]!++ * 3;
        run[p] = data[at]!;
        run[p + 1] = data[at + 1]!;
        run[p + 2] = data[at + 2]!;
      }
      const next = cNext[c]!;
      cNext[c] = this.freeChunk;
      this.freeChunk = c;
      c = next;
    }
    const end = count * 3;
    for (let j = 3; j < end; j += 3) {
      const t = run[j]!;
      const s = run[j + 1]!;
      let k = j - 3;
      if (run[k]! < t || (run[k] === t && run[k + 1]! < s)) continue; // already in place: the common case
      const id = run[j + 2]!;
      do {
        run[k + 3] = run[k]!;
        run[k + 4] = run[k + 1]!;
        run[k + 5] = run[k + 2]!;
        k -= 3;
      } while (k >= 0 && (run[k]! > t || (run[k] === t && run[k + 1]! > s)));
      run[k + 3] = t;
      run[k + 4] = s;
      run[k + 5] = id;
    }
    run[end] = Infinity;
    this.rPos = 0;
    this.rEnd = end;
    this.far -= count;
    return true;
  }

  /**
   * Takes every entry of a chunk chain out of the far future, into the heap or (spreading the top) into buckets, and
   * frees the chunks. cData is read per chunk: pushStaged may grow the pool, and a chunk not yet drained is the same in
   * the old array as in the new one.
   */
  private drainChain(first: number, intoHeap: boolean): void {
    for (let c = first; c >= 0; ) {
      const data = this.cData;
      for (let at = c * CHUNK * 3, end = at + this.cLen[c]! * 3; at < end; at += 3) {
        this.far--; // pushStaged counts it again
        this.staged[0] = data[at]!;
        if (intoHeap) this.heapPush(data[at + 1]!, data[at + 2]!);
        else this.pushStaged(data[at + 1]!, data[at + 2]!); // spreading: cur is 0, so always a bucket
      }
      const next = this.cNext[c]!;
      this.cNext[c] = this.freeChunk;
      this.freeChunk = c;
      c = next;
    }
  }

  /**
   * Buckets are used up: spreads the top over new buckets across its range of times, about bucketSize each. Too few
   * entries, or no range to spread over, go to the heap instead, and the queue is heap only again until the heap
   * reaches twice their number (so that a crowd of equal times does not go back and forth).
   */
  private spreadTop(): void {
    const count = this.topCount;
    // refill() calls this only with entries beyond the buckets: none would be a miscount, and would loop forever.
    if (count === 0) throw new InvariantError(`event queue: ${this.far} far entries counted, none found`);
    const first = this.topHead;
    const lo = this.topMin;
    const hi = this.topMax;
    this.topHead = -1;
    this.close(0);
    this.topCount = 0;
    this.topMin = Infinity;
    this.topMax = -Infinity;
    const nb = Math.ceil(count / this.bucketSize);
    const scale = nb / (hi - lo);
    this.cur = 0;
    // Fewer than two buckets' worth go to the heap instead, and so does a crowd at one time.
    if (count < 2 * this.bucketSize || !(scale > 0 && scale < Infinity)) {
      this.nb = 0;
      this.split = Infinity;
      this.tierAt = Math.max(this.tierAbove, 2 * count);
      this.moveChain(first); // far entries become heap entries
      return;
    }
    if (this.head.length < nb) {
      this.head = new Int32Array(nb);
      this.ends = new Int32Array(2 * nb + 2);
    }
    this.head.fill(-1, 0, nb);
    const ends = this.ends;
    for (let e = 0; e < 2 * nb + 2; e += 2) {
      // The top's too: its chain was just taken.
      ends[e] = -1;
      ends[e + 1] = CHUNK;
    }
    this.nb = nb;
    this.base = lo;
    this.scale = scale;
    this.split = hi;
    this.drainChain(first, false);
  }
}
