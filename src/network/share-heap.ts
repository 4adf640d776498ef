/**
 * A binary min-heap of (share, key) pairs in typed arrays, ordered by share then key, so that the bottleneck the
 * max-min solver picks among equal shares never depends on insertion order. It is cleared and reused on every
 * recomputation rather than reallocated.
 */
export class ShareHeap {
  private shares: Float64Array;
  private keys: Int32Array;
  private count = 0;

  constructor(initialCapacity = 64) {
    this.shares = new Float64Array(initialCapacity);
    this.keys = new Int32Array(initialCapacity);
  }

  get size(): number {
    return this.count;
  }

  clear(): void {
    this.count = 0;
  }

  /** The smallest share; meaningless when empty. */
  topShare(): number {
    return this.shares[0]!;
  }

  /** The key of the smallest share; meaningless when empty. */
  topKey(): number {
    return this.keys[0]!;
  }

  push(share: number, key: number): void {
    if (this.count === this.shares.length) this.grow();
    const shares = this.shares;
    const keys = this.keys;
    let i = this.count++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const ps = shares[parent]!;
      if (ps < share || (ps === share && keys[parent]! <= key)) break;
      shares[i] = ps;
      keys[i] = keys[parent]!;
      i = parent;
    }
    shares[i] = share;
    keys[i] = key;
  }

  pop(): void {
    const n = --this.count;
    if (n <= 0) return;
    const shares = this.shares;
    const keys = this.keys;
    const share = shares[n]!;
    const key = keys[n]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n) {
        const cs = shares[child]!;
        const rs = shares[right]!;
        if (rs < cs || (rs === cs && keys[right]! < keys[child]!)) child = right;
      }
      const cs = shares[child]!;
      if (share < cs || (share === cs && key <= keys[child]!)) break;
      shares[i] = cs;
      keys[i] = keys[child]!;
      i = child;
    }
    shares[i] = share;
    keys[i] = key;
  }

  private grow(): void {
    const shares = new Float64Array(this.shares.length * 2);
    const keys = new Int32Array(this.keys.length * 2);
    shares.set(this.shares);
    keys.set(this.keys);
    this.shares = shares;
    this.keys = keys;
  }
}
