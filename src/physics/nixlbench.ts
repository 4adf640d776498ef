import type { NodeSpec, TransportSpec } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import { railCap, railsFor, workerBandwidth, type BandwidthChoice } from './transfer.js';

/**
 * The modeled counterpart of NIXL's own benchmark (nixlbench): one GPU on each side, each of `threads` threads posting
 * transfers of `batchSize` descriptors of `blockSize` bytes, for every block size and batch size of the sweep (each
 * doubling from its start to its max, as nixlbench does). A transfer costs what transferCost says for one READ: the
 * latency and the READ's setup, then its descriptors' posting overlapping the bytes on the wire; the threads post in
 * parallel and share the wire. Rows in nixlbench's terms: the average latency per block (the transfer's time over its
 * batch, as nixlbench prints it) and the bandwidth of all threads together.
 */
export interface NixlbenchQuery {
  transport: TransportSpec;
  node: NodeSpec;
  bandwidth?: BandwidthChoice;
  /** NIC rails one GPU's transfers stripe over; default the transport's rail rule for one GPU (railsFor). */
  rails?: number;
  startBlockSize: number;
  maxBlockSize: number;
  startBatchSize: number;
  maxBatchSize: number;
  threads: number;
}

export interface NixlbenchRow {
  /** Bytes per descriptor. */
  blockSize: number;
  /** Descriptors per transfer. */
  batchSize: number;
  /** Microseconds per block: a transfer's time over its batch size. */
  latencyUs: number;
  /** GB/s (1e9 B/s) over all threads. */
  bandwidthGBps: number;
}

/** Sizes from start to max, doubling (start itself when start = max). */
export function doublings(start: number, max: number, what: string): number[] {
  if (!(Number.isSafeInteger(start) && start >= 1)) throw new UserError(`${what}: the start must be a whole number >= 1, got ${start}`);
  if (!(Number.isSafeInteger(max) && max >= start)) throw new UserError(`${what}: the max must be a whole number >= the start (${start}), got ${max}`);
  const out: number[] = [];
  for (let v = start; v <= max; v *= 2) out.push(v);
  return out;
}

/**
 * Seconds of one nixlbench transfer of `batchSize` blocks of `blockSize` bytes, by one of `threads` threads sharing
 * `bandwidth` (bytes/s): the latency and the transfer's setup, then its descriptors' posting overlapping the wire
 * (transferCost's model for one READ of equal descriptors). Shared by the modeled benchmark and its calibration.
 */
export function nixlbenchTransferS(
  t: Pick<TransportSpec, 'latencyS' | 'perReadS' | 'perDescriptorS'>,
  bandwidth: number,
  blockSize: number,
  batchSize: number,
  threads: number,
): number {
  return t.latencyS + t.perReadS + Math.max(batchSize * t.perDescriptorS, (threads * batchSize * blockSize) / bandwidth);
}

export function nixlbenchRows(q: NixlbenchQuery): NixlbenchRow[] {
  const rails = q.rails ?? railsFor(q.transport, q.node, 1);
  const wire = workerBandwidth(q.transport, rails, q.bandwidth ?? 'typical', railCap(q.transport, q.node));
  const rows: NixlbenchRow[] = [];
  for (const blockSize of doublings(q.startBlockSize, q.maxBlockSize, 'block size')) {
    for (const batchSize of doublings(q.startBatchSize, q.maxBatchSize, 'batch size')) {
      const bytes = blockSize * batchSize;
      const seconds = nixlbenchTransferS(q.transport, wire, blockSize, batchSize, q.threads);
      rows.push({ blockSize, batchSize, latencyUs: (seconds / batchSize) * 1e6, bandwidthGBps: (bytes * q.threads) / seconds / 1e9 });
    }
  }
  return rows;
}
