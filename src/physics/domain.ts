import type { NodeSpec, Placement, TransportSpec } from '../spec/catalog.js';
import { UserError } from '../errors.js';

/**
 * Multi-node NVLink (a transport with nvlinkDomainOnly, e.g. mnnvl) reaches GPUs of one NVLink domain only. Placed
 * cross-node, prefill and decode sit on different nodes: one domain holds them both only where the node's domain spans
 * nodes (GB200 NVL72: 72 GPUs over 18 trays of 4) and the deployment's `gpus` fit in it. Throws UserError otherwise;
 * other transports and placements are the placement rules' business (checkPlacement). Prefill and decode groups on
 * nodes of different kinds (`decodeNode`) are never in one domain.
 */
export function checkNvlinkDomain(transport: TransportSpec, node: NodeSpec, placement: Placement, gpus: number, decodeNode: NodeSpec = node): void {
  if (!transport.nvlinkDomainOnly || placement !== 'cross-node') return;
  if (decodeNode.id !== node.id) {
    throw new UserError(
      `transport '${transport.id}' reaches GPUs of one NVLink domain only: prefill on '${node.id}' and decode on '${decodeNode.id}' are machines of different kinds, not one domain (use a NIC transport between them)`,
    );
  }
  if (node.nvlinkDomainGpus <= node.gpusPerNode) {
    throw new UserError(
      `transport '${transport.id}' is not available between workers placed cross-node on '${node.id}': its NVLink domain is the node itself (${node.gpusPerNode} GPUs), and multi-node NVLink does not leave the domain`,
    );
  }
  if (gpus > node.nvlinkDomainGpus) {
    throw new UserError(
      `transport '${transport.id}' reaches GPUs of one NVLink domain only: '${node.id}' has ${node.nvlinkDomainGpus} GPUs in its domain, and the deployment's ${gpus} GPUs cannot all be in it (use a NIC transport between domains)`,
    );
  }
}
