import { InvariantError } from '../errors.js';
import type { BlockHash } from '../spec/experiment.js';

/**
 * An engine's KV block pool with vLLM-style prefix caching. Blocks are either owned by a running request, cached
 * (full blocks of finished prompts, found again by their content hash; shared by reference count), or free. Cached
 * blocks nobody references are evictable, least recently used first, so allocation treats them as free space.
 */
export class KvBlockPool {
  private owned = 0;
  /** Cached blocks by hash: reference counts. Map order is the LRU order of idle entries (refs 0). */
  private readonly cached = new Map<BlockHash, number>();
  private idle = 0;
  private peakUsed = 0;

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
    if (overflow > 0) {
      for (const [hash, refs] of this.cached) {
        if (overflow <= 0) break;
        if (refs === 0) {
          this.cached.delete(hash);
          this.idle--;
          overflow--;
        }
      }
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
    for (let i = 0; i < k; i++) if (this.cached.get(hashes[i]!) === 0) n++;
    return n;
  }

  /** References the first k hashes (which must be cached), refreshing them in the LRU order. */
  acquire(hashes: readonly BlockHash[], k: number): void {
    for (let i = 0; i < k; i++) {
      const h = hashes[i]!;
      const refs = this.cached.get(h);
      if (refs === undefined) throw new InvariantError(`acquiring uncached block ${h}`);
      if (refs === 0) this.idle--;
      this.cached.delete(h);
      this.cached.set(h, refs + 1);
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
      const refs = this.cached.get(h);
      if (refs === undefined) {
        this.cached.set(h, 1);
      } else {
        if (refs === 0) this.idle--;
        this.cached.delete(h);
        this.cached.set(h, refs + 1);
      }
    }
  }

  /** Drops a request's references; blocks nobody references stay cached (evictable) at the recent end. */
  unref(hashes: readonly BlockHash[]): void {
    for (const h of hashes) {
      const refs = this.cached.get(h);
      if (refs === undefined || refs <= 0) throw new InvariantError(`unreferencing block ${h} with no reference`);
      this.cached.delete(h);
      this.cached.set(h, refs - 1);
      if (refs - 1 === 0) this.idle++;
    }
  }

  /** Blocks owned by requests (not cached). */
  get ownedBlocks(): number {
    return this.owned;
  }

  /** Forgets every cached block nobody references (a restarted worker comes back with an empty prefix cache). */
  dropIdle(): void {
    for (const [hash, refs] of this.cached) {
      if (refs === 0) this.cached.delete(hash);
    }
    this.idle = 0;
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
