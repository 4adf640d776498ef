import { LruList } from '../engine/collections.js';
import { InvariantError } from '../errors.js';
import type { BlockHash } from '../spec/experiment.js';

/** A cached block: its references, and its links in the idle list while it has none. */
interface CachedBlock {
  hash: BlockHash;
  refs: number;
  prev: CachedBlock | null;
  next: CachedBlock | null;
}

/**
 * An engine's KV block pool with vLLM-style prefix caching. Blocks are either owned by a running request, cached
 * (full blocks of finished prompts, found again by their content hash; shared by reference count), or free. Cached
 * blocks nobody references are evictable, least recently used first, so allocation treats them as free space.
 */
export class KvBlockPool {
  private owned = 0;
  /** Cached blocks by hash. */
  private readonly cached = new Map<BlockHash, CachedBlock>();
  /**
   * The cached blocks nobody references, least recently released first: what allocation evicts, in that order (vLLM's
   * free block queue). A block joins the recent end when its last reference goes, and leaves when it is taken again.
   */
  private readonly idleList = new LruList<CachedBlock>();
  private peakUsed = 0;

  private get idle(): number {
    return this.idleList.size;
  }

  constructor(readonly total: number) {
    if (!(Number.isInteger(total) && total >= 0)) throw new InvariantError(`KV pool of ${total} blocks`);
  }

  /** Blocks a new allocation can take (free plus evictable). */
  get available(): number {
    return this.total - this.owned - (this.cached.size - this.idle);
  }

  /** Blocks holding live KV (owned plus referenced cached blocks): the occupancy a dashboard shows. */
  get used(): number {
    return this.owned + this.cached.size - this.idle;
  }

  /** Blocks in the prefix cache, referenced or idle: what the worker's KV events have told Dynamo's indexer it holds. */
  get cachedBlocks(): number {
    return this.cached.size;
  }

  get peak(): number {
    return this.peakUsed;
  }

  /** Takes n blocks, evicting idle cached blocks if needed; false (and nothing taken) if they do not fit. */
  allocate(n: number): boolean {
    if (n > this.available) return false;
    let overflow = this.owned + n + this.cached.size - this.total;
    while (overflow > 0) {
      const b = this.idleList.oldest!;
      this.idleList.remove(b);
      this.cached.delete(b.hash);
      overflow--;
    }
    this.owned += n;
    this.peakUsed = Math.max(this.peakUsed, this.used);
    return true;
  }

  release(n: number): void {
    if (n > this.owned) throw new InvariantError(`releasing ${n} KV blocks with ${this.owned} owned`);
    this.owned -= n;
  }

  /** How many leading hashes are cached (the prefix a new request can skip). */
  matchPrefix(hashes: readonly BlockHash[]): number {
    let k = 0;
    while (k < hashes.length && this.cached.has(hashes[k]!)) k++;
    return k;
  }

  /** Of the first k hashes (which must be cached), those nobody references: evictable until a request takes them. */
  idleAmong(hashes: readonly BlockHash[], k: number): number {
    let n = 0;
    for (let i = 0; i < k; i++) if (this.cached.get(hashes[i]!)?.refs === 0) n++;
    return n;
  }

  /** References the first k hashes (which must be cached), refreshing them in the LRU order. */
  acquire(hashes: readonly BlockHash[], k: number): void {
    for (let i = 0; i < k; i++) {
      const b = this.cached.get(hashes[i]!);
      if (b === undefined) throw new InvariantError(`acquiring uncached block ${hashes[i]}`);
      if (b.refs++ === 0) this.idleList.remove(b);
    }
    this.peakUsed = Math.max(this.peakUsed, this.used);
  }

  /**
   * Turns `count` of a request's owned blocks into cached blocks under these hashes (its full prompt blocks), keeping
   * a reference for the request. Hashes already cached (another request computed the same block) just gain a
   * reference, and the duplicate owned block is freed.
   */
  commit(hashes: readonly BlockHash[]): void {
    for (const h of hashes) {
      if (this.owned <= 0) throw new InvariantError('committing a block nobody owns');
      this.owned--;
      const b = this.cached.get(h);
      if (b === undefined) this.cached.set(h, { hash: h, refs: 1, prev: null, next: null });
      else if (b.refs++ === 0) this.idleList.remove(b);
    }
  }

  /** Drops a request's references; blocks nobody references stay cached (evictable) at the recent end. */
  unref(hashes: readonly BlockHash[]): void {
    for (const h of hashes) {
      const b = this.cached.get(h);
      if (b === undefined || b.refs <= 0) throw new InvariantError(`unreferencing block ${h} with no reference`);
      if (--b.refs === 0) this.idleList.push(b);
    }
  }

  /** Blocks owned by requests (not cached). */
  get ownedBlocks(): number {
    return this.owned;
  }

  /** Forgets every cached block nobody references (a restarted worker comes back with an empty prefix cache). */
  dropIdle(): void {
    for (let b = this.idleList.oldest; b; b = b.next) this.cached.delete(b.hash);
    this.idleList.clear();
  }

  /** Checks the books: nothing negative, nothing over capacity. O(1): cheap enough to run after every event. */
  check(name = 'KV pool'): void {
    if (this.owned < 0 || this.idle < 0 || this.idle > this.cached.size || this.owned + this.cached.size > this.total) {
      throw new InvariantError(
        `no pool goes negative or over capacity: ${name} has owned ${this.owned}, cached ${this.cached.size} ` +
          `(idle ${this.idle}), total ${this.total} blocks`,
      );
    }
  }
}
