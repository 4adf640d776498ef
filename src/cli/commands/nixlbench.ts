/**
 * `nixlsim nixlbench`: the modeled counterpart of NIXL's benchmark, in its vocabulary, to hold beside a real run: one
 * row per block size and batch size with the average latency per block and the bandwidth (src/physics/nixlbench.ts).
 */
import type { Argv, CommandModule } from 'yargs';
import { defaultCatalog, firstNodeOffering, getNode, getTransport, nodeOffers } from '../../catalog/index.js';
import { UserError } from '../../errors.js';
import { BANDWIDTHS } from '../../experiment/schema.js';
import { checkPlacement, nixlbenchRows } from '../../physics/index.js';
import { num, sizeText, textTable } from '../../report/table.js';
import { byteSize, forFlag, wholeNumber } from '../options.js';

interface Args {
  backend: string;
  transport: string;
  node?: string;
  placement: 'intra-pod' | 'same-node' | 'cross-node';
  op: 'READ' | 'WRITE';
  startBlockSize: number;
  maxBlockSize: number;
  startBatchSize: number;
  maxBatchSize: number;
  numThreads: number;
  rails?: number;
  bandwidth: 'min' | 'typical' | 'max';
  json: boolean;
}

export const nixlbenchCommand: CommandModule<object, Args> = {
  command: 'nixlbench',
  describe: "Model NIXL's benchmark: latency and bandwidth by block size and batch size over a transport",
  builder: (y) =>
    y
      .option('backend', { type: 'string', demandOption: true, describe: 'NIXL backend: UCX or LIBFABRIC (must be the transport\'s)' })
      .option('transport', { type: 'string', demandOption: true, describe: 'transport id (nixlsim list transports)' })
      .option('node', { type: 'string', describe: 'node id for both GPUs (default: the first node offering the transport)' })
      .option('placement', { choices: ['intra-pod', 'same-node', 'cross-node'] as const, default: 'cross-node' as const, describe: 'where the two GPUs sit (intra-pod: one node, one pod, as two processes of one machine are)' })
      .option('op', { choices: ['READ', 'WRITE'] as const, default: 'READ' as const, describe: 'NIXL operation (priced alike: RDMA reads and writes move at one rate)' })
      .option('start-block-size', { default: 4096, requiresArg: true, describe: 'first block size (4K, 64K, 1M: powers of 1024)', coerce: byteSize('start-block-size') })
      .option('max-block-size', { default: 64 * 2 ** 20, requiresArg: true, describe: 'last block size; sizes double from the start', coerce: byteSize('max-block-size') })
      .option('start-batch-size', { default: 1, requiresArg: true, describe: 'first batch size (descriptors per transfer)', coerce: wholeNumber('start-batch-size', 1, 2 ** 20) })
      .option('max-batch-size', { default: 1, requiresArg: true, describe: 'last batch size; sizes double from the start', coerce: wholeNumber('max-batch-size', 1, 2 ** 20) })
      .option('num-threads', { default: 1, requiresArg: true, describe: 'threads posting transfers at once (they share the wire)', coerce: wholeNumber('num-threads', 1, 1024) })
      .option('rails', { requiresArg: true, describe: "NIC rails one GPU's transfers stripe over (default: the backend's rule for one GPU: UCX 2, libfabric its GPU's EFA devices)", coerce: wholeNumber('rails', 1, 1024) })
      .option('bandwidth', { choices: BANDWIDTHS, default: 'typical' as const, describe: "which per-rail bandwidth of the transport's range" })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON: {rows: [{blockSize, batchSize, latencyUs, bandwidthGBps}]}' }) as unknown as Argv<Args>,
  handler: (a) => {
    const c = defaultCatalog();
    const transport = forFlag('transport', a.transport, () => getTransport(c, a.transport));
    const backend = a.backend.toUpperCase();
    if (backend !== transport.backend) {
      const same = [...c.transports.values()].filter((t) => t.backend === backend).map((t) => t.id);
      throw new UserError(`transport '${transport.id}' runs on NIXL's ${transport.backend} backend, not ${backend}${same.length ? ` (${backend} transports: ${same.join(', ')})` : ''}`, `--backend ${a.backend}`);
    }
    const node = a.node ? forFlag('node', a.node, () => getNode(c, a.node!)) : firstNodeOffering(c, transport.id);
    if (!nodeOffers(node, transport)) throw new UserError(`node '${node.id}' does not offer transport '${transport.id}' (it offers: ${node.transports.join(', ')})`, `--transport ${a.transport}`);
    const rule = forFlag('placement', a.placement, () => checkPlacement(transport, a.placement));
    if (rule.outcome === 'fails') {
      throw new UserError(`${transport.id} between GPUs placed ${a.placement} sets up but never completes a transfer: ${rule.reason ?? 'see the catalog'}`, `--placement ${a.placement}`);
    }
    const rows = nixlbenchRows({
      transport,
      node,
      bandwidth: a.bandwidth,
      ...(a.rails !== undefined ? { rails: a.rails } : {}),
      startBlockSize: a.startBlockSize,
      maxBlockSize: a.maxBlockSize,
      startBatchSize: a.startBatchSize,
      maxBatchSize: a.maxBatchSize,
      threads: a.numThreads,
    });
    if (a.json) {
      console.log(JSON.stringify({ rows }));
      return;
    }
    console.log(
      [
        `nixlbench (modeled): ${backend} ${a.op} over ${transport.id} on ${node.id}, ${a.placement}, ${a.numThreads} thread(s), ${a.bandwidth} bandwidth`,
        '',
        ...textTable(
          ['block size', 'batch size', 'avg latency (us)', 'bandwidth (GB/s)'],
          rows.map((r) => [sizeText(r.blockSize), String(r.batchSize), num(r.latencyUs), num(r.bandwidthGBps)]),
          () => false,
        ),
      ].join('\n'),
    );
  },
};
