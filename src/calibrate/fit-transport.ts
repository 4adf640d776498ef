import type { LlmSpec, NodeSpec, TransportSpec } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import { kvBytesPerTokenPerRank, postingOf, railsFor, readPlan } from '../physics/index.js';

/**
 * A transport's effective bandwidth and latency from measured KV transfer times, by linear least squares on
 * time = latency + posting + bytes / bandwidth. The posting term (per-READ and per-descriptor costs, ranks in
 * parallel; src/physics/transfer.ts) is the transport record's, subtracted first, so that the written record
 * reproduces the fitted line in the model; `bandwidth` is one prefill-decode worker pair's, i.e. the per-rail
 * figure times the rails the model gives the workers.
 */
export interface TransferSample {
  /** `m.csv:4` */
  label: string;
  /** Bytes moved, measured (kv_bytes) or from the model's read plan for kv_tokens. */
  bytes: number;
  tokens: number;
  ms: number;
}

export interface TransferPath {
  llm: LlmSpec;
  transport: TransportSpec;
  node: NodeSpec;
  prefillTp: number;
  decodeTp: number;
  blockSize: number;
  hostLinkBandwidth: number;
}

export interface TransportFit {
  latencyS: number;
  /** Bytes/s of the worker pair. */
  bandwidth: number;
  /** Per rail, what the record stores. */
  bandwidthPerRail: number;
  rails: number;
  /** True when the intercept came out negative and the record's latency was kept, the bandwidth fitted alone. */
  latencyHeld: boolean;
  rows: { label: string; measuredMs: number; modeledMs: number; error: number }[];
  rmsError: number;
}

/** A row's size in bytes and tokens: the read plan's bytes for a token count, the tokens a byte count holds. */
export function transferSize(p: TransferPath, s: { kvBytes?: number; kvTokens?: number }): { bytes: number; tokens: number } {
  if (s.kvTokens !== undefined) return { bytes: readPlan(p.llm, s.kvTokens, p.prefillTp, p.decodeTp, p.blockSize).bytesTotal, tokens: s.kvTokens };
  const perToken = kvBytesPerTokenPerRank(p.llm, p.decodeTp) * p.decodeTp;
  return { bytes: s.kvBytes!, tokens: Math.max(1, Math.round(s.kvBytes! / perToken)) };
}

/**
 * The fixed part of a transfer besides the latency: its READs' setups. The fit takes the transfer as wire-bound (time
 * = latency + setup + bytes / bandwidth), which holds while descriptor posting is quicker than the wire.
 */
function postingS(p: TransferPath, tokens: number): number {
  const plan = readPlan(p.llm, tokens, p.prefillTp, p.decodeTp, p.blockSize);
  return postingOf(plan, { ...p.transport, latencyS: 0 }).setupS;
}

export function fitTransport(samples: readonly TransferSample[], p: TransferPath): TransportFit {
  const t = p.transport;
  if (samples.length < 2 || new Set(samples.map((s) => s.bytes)).size < 2) {
    throw new UserError(`cannot fit transport '${t.id}': transfer times at ${samples.length < 2 ? 'one row' : 'a single size'} cannot separate latency from bandwidth; give kv_transfer_ms for at least two different kv_bytes or kv_tokens`);
  }
  const x = samples.map((s) => s.bytes);
  const y = samples.map((s) => s.ms / 1000 - postingS(p, s.tokens));
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  const sxx = x.reduce((a, v) => a + (v - mx) ** 2, 0);
  let slope = x.reduce((a, v, i) => a + (v - mx) * (y[i]! - my), 0) / sxx;
  let latencyS = my - slope * mx;
  let latencyHeld = false;
  if (latencyS <= 0) {
    // The line crosses below zero (noise, or overheads the record already counts): keep the record's latency.
    latencyHeld = true;
    latencyS = t.latencyS;
    slope = x.reduce((a, v, i) => a + v * (y[i]! - latencyS), 0) / x.reduce((a, v) => a + v * v, 0);
  }
  if (!(slope > 0)) throw new UserError(`cannot fit transport '${t.id}': the measured transfer times do not grow with the size (check kv_transfer_ms against kv_bytes / kv_tokens)`);
  const bandwidth = 1 / slope;
  if (!t.gpuDirect && bandwidth > p.hostLinkBandwidth) {
    throw new UserError(
      `cannot fit transport '${t.id}': the measured ${(bandwidth / 1e9).toFixed(2)} GB/s exceeds the ${(p.hostLinkBandwidth / 1e9).toFixed(1)} GB/s host link a staged transport crosses; were the transfers GPUDirect?`,
    );
  }
  const rails = Math.min(railsFor(t, p.node, p.prefillTp), railsFor(t, p.node, p.decodeTp));
  const rows = samples.map((s) => {
    const modeledMs = (latencyS + postingS(p, s.tokens) + s.bytes / bandwidth) * 1000;
    return { label: s.label, measuredMs: s.ms, modeledMs, error: (modeledMs - s.ms) / s.ms };
  });
  const rmsError = Math.sqrt(rows.reduce((a, r) => a + r.error ** 2, 0) / rows.length);
  return { latencyS, bandwidth, bandwidthPerRail: bandwidth / rails, rails, latencyHeld, rows, rmsError };
}
