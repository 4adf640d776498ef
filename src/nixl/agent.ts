import type { LlmSpec } from '../spec/catalog.js';
import { kvHeadsPerRank } from '../physics/index.js';
import { dtypeBytes } from '../physics/units.js';

/**
 * One NIXL agent: a worker rank's registered KV memory and the metadata it hands out at the handshake. Descriptive on
 * purpose: the simulation needs its numbers (regions, block_len) to size reads and to check that bytes read equal
 * bytes held, not a byte-level memory model.
 */
export interface KvRegion {
  layer: number;
  /** GQA caches register K and V separately; an MLA cache is one latent region per layer. */
  kind: 'K' | 'V' | 'latent';
  /** Bytes of one block of this region on this rank. */
  blockLen: number;
}

export interface AgentMetadata {
  engineId: string;
  rank: number;
  agentName: string;
  tpSize: number;
  blockSize: number;
  numBlocks: number;
  /** Bytes per block per region. */
  blockLen: number;
  regions: number;
  /** Heterogeneous TP needs head-major blocks so that a head slice is contiguous; vLLM forces HND for it. */
  kvCacheLayout: 'HND' | 'NHD';
  compatHash: string;
}

export class NixlAgent {
  readonly name: string;
  readonly regions: KvRegion[];
  readonly blockLen: number;

  constructor(
    readonly engineId: string,
    readonly rank: number,
    readonly tpSize: number,
    readonly llm: LlmSpec,
    readonly blockSize: number,
    readonly numBlocks: number,
    readonly compatHash: string,
  ) {
    this.name = `${engineId}.rank${rank}`;
    const b = dtypeBytes(llm.kvDtype);
    this.blockLen =
      llm.attention === 'mla' && llm.mla
        ? blockSize * (llm.mla.kvLoraRank + llm.mla.ropeDim) * b
        : blockSize * kvHeadsPerRank(llm, tpSize) * llm.headDim * b;
    const kinds: KvRegion['kind'][] = llm.attention === 'mla' ? ['latent'] : ['K', 'V'];
    this.regions = [];
    for (let layer = 0; layer < llm.layers; layer++) {
      for (const kind of kinds) this.regions.push({ layer, kind, blockLen: this.blockLen });
    }
  }

  /** Bytes this rank holds for `blocks` blocks of one request. */
  bytesFor(blocks: number): number {
    return blocks * this.blockLen * this.regions.length;
  }

  metadata(): AgentMetadata {
    return {
      engineId: this.engineId,
      rank: this.rank,
      agentName: this.name,
      tpSize: this.tpSize,
      blockSize: this.blockSize,
      numBlocks: this.numBlocks,
      blockLen: this.blockLen,
      regions: this.regions.length,
      kvCacheLayout: 'HND',
      compatHash: this.compatHash,
    };
  }
}
