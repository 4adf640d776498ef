import { InvariantError } from '../errors.js';
import type { BlockHash } from '../spec/experiment.js';

/**
 * An S3-compatible object store holding KV blocks below the workers' host tiers: Dynamo KVBM's G4 tier (kvbm-engine
 * with its AWS SDK S3 client; its NIXL OBJ client is not implemented on that path). What the model takes from KVBM's
 * source (ai-dynamo/dynamo lib/kvbm-engine and lib/kvbm-config):
 *   - Shared: one bucket for the deployment, objects keyed by rank and the block's sequence hash, and no index but
 *     the bucket itself, so a worker finds blocks any worker of the same TP wrote. Capacity is not bounded and
 *     nothing is evicted or deleted (kvbm-engine's tier table: "unlimited").
 *   - Fed by the host tier, write-through: each block the host tier stores goes on to the bucket (in parallel with
 *     G3, from G2; G3 never feeds it), unless the bucket has it already (ObjectPresenceFilter): one PUT a block a
 *     rank (S3ObjectBlockClient.put_blocks_with_layout; the lock protocol of object/s3/lock.rs, for writers that
 *     coordinate, is not modelled).
 *   - Looked up after host memory and disk: the blocks left after them are checked with one HEAD a block (each rank
 *     its own key), and the request waits for that check whether or not any is found (leader/search/g4.rs awaits the
 *     search before onboarding completes; S3ObjectBlockClient.has_blocks sends the HEADs through buffer_unordered); hits are read (one GET a block a rank) into host memory and then copied
 *     to the GPU as host hits are (G4 -> G2 -> G1).
 *   - Each worker rank's client keeps at most `maxConcurrentRequests` requests in flight (S3ObjectConfig's
 *     max_concurrent_requests, default 16): n requests take ceil(n / that) round trips. The bytes go through the
 *     store's read or write bandwidth, shared by every worker, one transfer at a time a direction. A batch takes the
 *     longer of its round trips and its bytes (they overlap).
 * Not modelled: G4 reads of blocks written by a worker of another TP (separate keys, so separate here), the
 * request rate limits of a real store, the host blocks a G4 read allocates (the blocks go to the GPU; the host tier
 * does not keep them), and G4 under disaggregation (KVBM's documented disaggregated set-up runs on prefill workers).
 */
export interface ObjectStoreConfig {
  /** The store's read bandwidth, bytes/s, shared by the deployment's workers. */
  readBytesPerS: number;
  /** Its write bandwidth, bytes/s. */
  writeBytesPerS: number;
  /** One request's round trip, seconds (HEAD, GET, PUT or DELETE). */
  requestLatencyS: number;
  /** Requests a worker rank's client keeps in flight. */
  maxConcurrentRequests: number;
}

export interface ObjectStoreCounts {
  /** Blocks written (one object a rank each). */
  storedBlocks: number;
  /** Blocks read back to a worker. */
  onboardedBlocks: number;
  /** Blocks checked for presence (HEADs, a block a rank each). */
  checkedBlocks: number;
}

export class ObjectKvStore {
  /** Blocks by worker TP (a rank's key holds its TP's shard), each with when its write completes. */
  private readonly byTp = new Map<number, Map<BlockHash, number>>();
  private readFreeAt = 0;
  private writeFreeAt = 0;
  readonly counts: ObjectStoreCounts = { storedBlocks: 0, onboardedBlocks: 0, checkedBlocks: 0 };

  constructor(readonly cfg: ObjectStoreConfig) {
    if (!(cfg.readBytesPerS > 0 && cfg.writeBytesPerS > 0 && cfg.requestLatencyS >= 0 && Number.isInteger(cfg.maxConcurrentRequests) && cfg.maxConcurrentRequests >= 1)) {
      throw new InvariantError(`object store at ${cfg.readBytesPerS} B/s read, ${cfg.writeBytesPerS} B/s write, ${cfg.requestLatencyS} s a request, ${cfg.maxConcurrentRequests} in flight`);
    }
  }

  private blocks(tp: number): Map<BlockHash, number> {
    let m = this.byTp.get(tp);
    if (!m) this.byTp.set(tp, (m = new Map()));
    return m;
  }

  /** Seconds n requests take through a client that keeps maxConcurrentRequests in flight (buffer_unordered). */
  private roundTrips(n: number): number {
    return Math.ceil(n / this.cfg.maxConcurrentRequests) * this.cfg.requestLatencyS;
  }

  /**
   * Write-through from a worker's host tier: the blocks hashes[from .. upTo) of a TP-`tp` worker, on the host at
   * `start`, `blockBytes` each over all its ranks. Those the bucket lacks are written; returns when they are there.
   */
  store(hashes: readonly BlockHash[], from: number, upTo: number, tp: number, blockBytes: number, start: number): number {
    const m = this.blocks(tp);
    const fresh: BlockHash[] = [];
    for (let i = from; i < upTo; i++) {
      const h = hashes[i]!;
      if (m.has(h)) continue;
      m.set(h, Number.POSITIVE_INFINITY); // in flight: not found, not written twice
      fresh.push(h);
    }
    if (fresh.length === 0) return start;
    const bytesDone = Math.max(start, this.writeFreeAt) + (fresh.length * blockBytes) / this.cfg.writeBytesPerS;
    this.writeFreeAt = bytesDone;
    const done = Math.max(bytesDone, start + this.roundTrips(fresh.length));
    for (const h of fresh) m.set(h, done);
    this.counts.storedBlocks += fresh.length;
    return done;
  }

  /**
   * The presence check of hashes[from .. upTo) for a TP-`tp` worker at `now`: when it completes (one HEAD a block,
   * every one of them checked) and how many blocks from `from` on were there, written, at `now`.
   */
  check(hashes: readonly BlockHash[], from: number, upTo: number, tp: number, now: number): { found: number; doneAt: number } {
    const n = upTo - from;
    if (n <= 0) return { found: 0, doneAt: now };
    const m = this.blocks(tp);
    let found = 0;
    while (from + found < upTo && (m.get(hashes[from + found]!) ?? Number.POSITIVE_INFINITY) <= now) found++;
    this.counts.checkedBlocks += n;
    return { found, doneAt: now + this.roundTrips(n) };
  }

  /** Reads n blocks of `blockBytes` (over all ranks) to a worker's host memory from `start`; returns when they are there. */
  read(n: number, blockBytes: number, start: number): number {
    if (n <= 0) return start;
    const bytesDone = Math.max(start, this.readFreeAt) + (n * blockBytes) / this.cfg.readBytesPerS;
    this.readFreeAt = bytesDone;
    this.counts.onboardedBlocks += n;
    return Math.max(bytesDone, start + this.roundTrips(n));
  }
}
