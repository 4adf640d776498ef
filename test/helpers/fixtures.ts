import type { TransportSpec } from '../../src/spec/catalog.js';
import type { EngineArgs } from '../../src/spec/experiment.js';

/** vLLM's default engine arguments, as the experiment schema gives them; tests spread and override what they study. */
export const VLLM_ENGINE: Readonly<EngineArgs> = {
  maxNumBatchedTokens: 8192,
  maxNumSeqs: 256,
  blockSize: 16,
  gpuMemoryUtilization: 0.9,
  activationReserveBytes: 4e9,
  prefixCaching: true,
  chunkedPrefill: true,
};

/** A transport with round numbers and no fixed costs, so that a transfer takes exactly bytes / bandwidth. */
export function plainTransport(bytesPerS: number, striped = false): TransportSpec {
  return {
    id: 'test',
    name: 'test',
    backend: 'UCX',
    bandwidthPerRail: { min: bytesPerS, typical: bytesPerS, max: bytesPerS },
    striped,
    latencyS: 0,
    perReadS: 0,
    perDescriptorS: 0,
    gpuDirect: true,
    railRule: { rule: 'gpu-nics' },
    lineRateShare: 1,
    placements: [{ placement: 'cross-node', outcome: 'works' }],
    sources: {},
  };
}
