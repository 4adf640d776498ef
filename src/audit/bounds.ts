import { getGpu, getLlm, getNode, getTransport } from '../catalog/load.js';
import type { Catalog } from '../spec/catalog.js';
import type { Deployment } from '../spec/experiment.js';
import type { MeasuredMetric } from '../measure/types.js';
import { physicalBounds, type Bounds } from '../physics/bounds.js';

/** The physical bounds of a deployment for one measured run's lengths and concurrency (src/physics/bounds.ts). */
export function deploymentBounds(d: Deployment, catalog: Catalog, run: { isl: number; osl: number; concurrency: number }): Bounds {
  const llm = getLlm(catalog, d.model);
  const gpu = getGpu(catalog, d.gpu);
  const agg = d.mode === 'aggregated';
  const prefill = agg ? d.aggregated : d.prefill;
  const decode = agg ? d.aggregated : d.decode;
  const node = getNode(catalog, d.node);
  return physicalBounds({
    llm,
    gpu,
    mode: d.mode,
    prefillTp: prefill.tp,
    decodeTp: decode.tp,
    prefillWorkers: prefill.workers,
    decodeWorkers: decode.workers,
    maxNumSeqs: d.engine.maxNumSeqs,
    ...(agg
      ? {}
      : {
          transfer: {
            transport: getTransport(catalog, d.transport),
            prefillNode: node,
            decodeNode: node,
            blockSize: d.engine.blockSize,
            hostLinkBandwidth: gpu.hostLink.copyBandwidth,
          },
        }),
    isl: run.isl,
    osl: run.osl,
    concurrency: run.concurrency,
  });
}

/** A bound in the unit audit reports the metric in: ms for latencies, output tokens/s for throughput. */
export function boundOf(b: Bounds, metric: MeasuredMetric): number {
  switch (metric) {
    case 'ttft':
      return b.ttftS * 1000;
    case 'itl':
      return b.itlS * 1000;
    case 'latency':
      return b.latencyS * 1000;
    case 'throughput':
      return b.throughput;
  }
}
