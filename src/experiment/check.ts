/**
 * The rules an experiment must satisfy against the catalog: every id names a record, the node has the GPU and offers
 * the transport, the transport can connect workers placed as asked, TP splits the model's KV heads evenly, and the
 * requests fit the model's context. What the simulation is there to find out is not checked: a TP pair a vLLM build
 * rejects or crashes on, a placement where transfers 'fail', a transfer that outlasts the expiry. Those are scenarios.
 */
import { getConnector, getGpu, getLlm, getNode, getTransport } from '../catalog/load.js';
import type { Catalog, LlmSpec, NodeSpec, TransportSpec } from '../catalog/types.js';
import { UserError } from '../errors.js';
import { checkPlacement, kvHeadsPerRank } from '../physics/index.js';
import type { ExperimentFile } from './schema.js';
import type { Path, Problem } from './yaml-errors.js';

/** Runs `f`; a UserError it throws (a catalog lookup, a physics rule) becomes a problem at `path`. */
function at<T>(path: Path, also: Path[], f: () => T): T | Problem {
  try {
    return f();
  } catch (err) {
    if (err instanceof UserError) return { path, also, message: err.message };
    throw err;
  }
}

function isProblem(v: unknown): v is Problem {
  return typeof v === 'object' && v !== null && 'message' in v && 'path' in v;
}

const D = 'deployment';

export interface CatalogRecords {
  llm: LlmSpec;
  node: NodeSpec;
  transport: TransportSpec;
  gpu: string;
}

/** The first rule the experiment breaks, or the catalog records it names. */
export function checkAgainstCatalog(d: ExperimentFile, catalog: Catalog): Problem | CatalogRecords {
  const dep = d.deployment;
  const llm = at([D, 'model'], [], () => getLlm(catalog, dep.model));
  if (isProblem(llm)) return llm;
  const node = at([D, 'node'], [], () => getNode(catalog, dep.node));
  if (isProblem(node)) return node;
  if (dep.gpu !== undefined) {
    const gpu = at([D, 'gpu'], [], () => getGpu(catalog, dep.gpu!));
    if (isProblem(gpu)) return gpu;
    if (gpu.id !== node.gpu) {
      const others = [...catalog.nodes.values()].filter((n) => n.gpu === gpu.id).map((n) => n.id);
      const hint = others.length ? `pick a node with ${gpu.id} GPUs (${others.join(', ')}) or leave gpu out` : 'leave gpu out';
      return { path: [D, 'gpu'], also: [[D, 'node']], message: `node '${node.id}' has ${node.gpu} GPUs, not '${gpu.id}'; ${hint}` };
    }
  }
  const connector = at([D, 'connector'], [], () => getConnector(catalog, dep.connector));
  if (isProblem(connector)) return connector;
  const transport = at([D, 'transport'], [], () => getTransport(catalog, dep.transport));
  if (isProblem(transport)) return transport;

  // Only the groups the mode runs: a sweep over mode should not trip on the group the other mode ignores.
  const groups = dep.mode === 'disaggregated' ? (['prefill', 'decode'] as const) : (['aggregated'] as const);
  for (const g of groups) {
    const r = at([D, g, 'tp'], [[D, 'model']], () => kvHeadsPerRank(llm, dep[g].tp));
    if (isProblem(r)) return r;
  }

  if (dep.mode === 'disaggregated') {
    if (!node.transports.includes(transport.id)) {
      return {
        path: [D, 'transport'],
        also: [[D, 'node']],
        message: `node '${node.id}' does not offer transport '${transport.id}' (it offers: ${node.transports.join(', ')})`,
      };
    }
    const placed = at([D, 'transport'], [[D, 'placement']], () => checkPlacement(transport, dep.placement));
    if (isProblem(placed)) return placed;
  }

  const w = d.workload;
  if (w.kind !== 'trace' && w.isl?.mean !== undefined && w.osl?.mean !== undefined) {
    const total = w.isl.mean + w.osl.mean;
    if (total > llm.maxContext) {
      return {
        path: ['workload', 'isl', 'mean'],
        also: [['workload', 'osl', 'mean'], [D, 'model']],
        message: `isl.mean + osl.mean = ${w.isl.mean} + ${w.osl.mean} = ${total} tokens exceeds the ${llm.maxContext}-token context (maxContext) of '${llm.id}'`,
      };
    }
  }
  return { llm, node, transport, gpu: node.gpu };
}
