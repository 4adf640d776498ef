import { fallbackTransport, getNode, nodeOffers } from '../catalog/load.js';
import type { Catalog, TransportSpec } from '../spec/catalog.js';
import { defaultRequests, type MeasuredRunOptions } from '../experiment/measured.js';
import type { Point } from '../spec/experiment.js';

/**
 * The alternative explanations of a slower measurement that the model can simulate: the same point with one thing
 * changed. Audit names a cause when its hypothesis's modeled value reaches the measured one (verdict.ts, explains).
 * - queueing: twice the stated concurrency (other clients on the same deployment, or warm-up overlapping the
 *   measurement): more requests wait for a free engine, and decode batches grow;
 * - tcp-fallback: the KV over UCX's TCP fallback ("UCX WARN no RDMA transports available"), at ~100 MB/s: the
 *   transport record marked `fallbackWhen: no-rdma`;
 * - host-staging: RDMA without GPUDirect, through host memory on both sides: the record marked
 *   `fallbackWhen: no-gpudirect`, tried only where the current transport has GPUDirect.
 * Expiry fallback is read from the runs' events instead (audit.ts): a transfer that outlasts vLLM's abort timeout
 * is released by prefill and recomputed by decode.
 * The transfer hypotheses apply to disaggregated deployments whose node offers the transport and that do not use it
 * already.
 */
export interface Hypothesis {
  cause: 'queueing' | 'tcp-fallback' | 'host-staging';
  detail: string;
  point: Point;
}

export function hypotheses(base: Point, catalog: Catalog, run: MeasuredRunOptions = {}): Hypothesis[] {
  const out: Hypothesis[] = [];
  const e = base.experiment;
  const c = e.workload.concurrency * 2;
  const queued = structuredClone(base);
  queued.id = `${base.id}-queueing`;
  queued.experiment.workload.concurrency = c;
  queued.experiment.workload.requests = run.requests !== undefined ? run.requests * 2 : defaultRequests(c);
  queued.experiment.workload.warmup = run.warmup !== undefined ? run.warmup * 2 : c;
  out.push({ cause: 'queueing', detail: 'more load than stated (other clients, warm-up overlapping the run): at twice the concurrency requests wait longer for an engine', point: queued });

  const d = e.deployment;
  if (d.mode !== 'disaggregated') return out;
  const node = getNode(catalog, d.node);
  const current = catalog.transports.get(d.transport);
  const alt = (t: TransportSpec | undefined, cause: Hypothesis['cause'], detail: string): void => {
    if (!t || t.id === d.transport || current?.calibratedFrom === t.id || !nodeOffers(node, t)) return;
    const p = structuredClone(base);
    p.id = `${base.id}-${cause}`;
    p.experiment.deployment.transport = t.id;
    out.push({ cause, detail, point: p });
  };
  alt(fallbackTransport(catalog, 'no-rdma'), 'tcp-fallback', 'the KV moved over TCP (UCX found no RDMA device and fell back)');
  if (current?.gpuDirect) alt(fallbackTransport(catalog, 'no-gpudirect'), 'host-staging', 'the KV staged through host memory (no GPUDirect RDMA)');
  return out;
}
