import type { Argv, CommandModule } from 'yargs';
import { defaultCatalog, firstNodeOffering, getLlm, getNode, getTransport, nodeOffers } from '../../catalog/index.js';
import { originalAbortTimeoutS } from '../../catalog/vllm.js';
import type { Placement } from '../../spec/catalog.js';
import { UserError } from '../../errors.js';
import { BANDWIDTHS, PLACEMENTS } from '../../experiment/schema.js';
import { checkNvlinkDomain } from '../../physics/domain.js';
import { estimateTransfer } from '../../physics/estimate.js';
import { checkPlacement, kvHeadsPerRank, withKvCacheDtype } from '../../physics/index.js';
import { KV_CACHE_DTYPES, KV_LAYOUTS, type KvCacheDtype, type KvLayout } from '../../spec/experiment.js';
import { byteSize, forFlag, positiveNumber, wholeNumber } from '../options.js';
import { LIMITS } from '../../experiment/schema.js';

interface Args {
  model?: string;
  tokens?: number;
  bytes?: number;
  descriptorBytes?: number;
  rails?: number;
  prefillTp: number;
  decodeTp: number;
  transport: string;
  concurrent: number;
  timeoutS?: number;
  node?: string;
  placement: Placement;
  bandwidth: 'min' | 'typical' | 'max';
  prefillBlockSize: number;
  kvLayout: KvLayout;
  kvCacheDtype: KvCacheDtype;
  nicGbps?: number;
  json: boolean;
}


export const transferCommand: CommandModule<object, Args> = {
  command: 'transfer',
  describe: "Estimate one request's KV transfer from a prefill to a decode worker",
  builder: (y) =>
    y
      .option('model', { type: 'string', describe: 'model id (nixlsim list models); with --tokens, the request whose KV moves' })
      .option('tokens', { requiresArg: true, describe: 'context length in tokens', coerce: wholeNumber('tokens', 1) })
      .option('bytes', { requiresArg: true, describe: 'a raw size instead of --model and --tokens: one READ of this many bytes (4K, 64M, 1G: powers of 1024)', coerce: byteSize('bytes') })
      .option('descriptor-bytes', { requiresArg: true, describe: 'with --bytes: the size of each descriptor (default: the whole buffer, one descriptor)', coerce: byteSize('descriptor-bytes') })
      .option('rails', { requiresArg: true, describe: "NIC rails each worker's reads stripe over (default: the backend's rule: UCX up to 2 NICs a rank, libfabric its GPU's EFA devices)", coerce: wholeNumber('rails', 1, 1024) })
      .option('prefill-tp', { default: 1, requiresArg: true, describe: 'prefill worker tensor parallel size', coerce: wholeNumber('prefill-tp', 1, LIMITS.tp.max) })
      .option('decode-tp', { default: 1, requiresArg: true, describe: 'decode worker tensor parallel size', coerce: wholeNumber('decode-tp', 1, LIMITS.tp.max) })
      .option('transport', { type: 'string', demandOption: true, describe: 'transport id (nixlsim list transports)' })
      .option('concurrent', { default: 1, requiresArg: true, describe: 'identical transfers sharing the same workers, started together', coerce: wholeNumber('concurrent', 1) })
      .option('timeout-s', { requiresArg: true, describe: "vLLM's abort timeout (VLLM_NIXL_ABORT_REQUEST_TIMEOUT; default: the first NixlConnector builds', from the catalog)", coerce: positiveNumber('timeout-s') })
      .option('node', { type: 'string', describe: 'node id for both workers (default: the first node offering the transport)' })
      .option('placement', { choices: PLACEMENTS, default: 'cross-node' as const, describe: 'where the two workers sit' })
      .option('bandwidth', { choices: BANDWIDTHS, default: 'typical' as const, describe: 'which per-rail bandwidth of the transport to use' })
      .option('prefill-block-size', { alias: 'block-size', default: 16, requiresArg: true, describe: "prefill KV block size in tokens (vLLM's --block-size): a READ posts descriptors per block", coerce: wholeNumber('prefill-block-size', 1) })
      .option('kv-layout', { choices: KV_LAYOUTS, default: 'HND' as const, describe: 'KV cache layout as registered with NIXL: descriptors per block (HND: 2 x layers; NHD: x block size when TPs differ; flashinfer: layers; cross-layer: 1)' })
      .option('kv-cache-dtype', { choices: KV_CACHE_DTYPES, default: 'auto' as const, describe: "vLLM's --kv-cache-dtype on both workers: auto (the model's KV dtype) or fp8 (one byte an element: half the bytes, the same descriptors)" })
      .option('nic-gbps', { requiresArg: true, describe: "line rate of each NIC rail in Gb/s, for a setup whose NICs are not the node's", coerce: positiveNumber('nic-gbps') })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as unknown as Argv<Args>, // yargs adds the camelCase keys at run time
  handler: (a) => {
    const c = defaultCatalog();
    if (a.bytes === undefined && (a.model === undefined || a.tokens === undefined)) {
      throw new UserError('give --model and --tokens (a request\'s KV), or --bytes (a raw size)', a.model === undefined ? '--model' : '--tokens');
    }
    if (a.bytes !== undefined && (a.model !== undefined || a.tokens !== undefined)) {
      throw new UserError('--bytes is a raw size: leave out --model and --tokens', '--bytes');
    }
    if (a.descriptorBytes !== undefined && a.bytes === undefined) throw new UserError('goes with --bytes (a request\'s descriptors follow its blocks: --prefill-block-size)', '--descriptor-bytes');
    // A raw size still needs a model record for the TP checks; the first catalog model stands in (it moves no bytes).
    const modelId = a.model ?? [...c.llms.keys()].sort()[0]!;
    const llm = withKvCacheDtype(forFlag('model', modelId, () => getLlm(c, modelId)), a.kvCacheDtype);
    const transport = forFlag('transport', a.transport, () => getTransport(c, a.transport));
    const node = a.node ? forFlag('node', a.node, () => getNode(c, a.node!)) : firstNodeOffering(c, transport.id);
    if (!nodeOffers(node, transport)) {
      throw new UserError(`node '${node.id}' does not offer transport '${transport.id}' (it offers: ${node.transports.join(', ')})`, `--transport ${a.transport}`);
    }
    forFlag('prefill-tp', a.prefillTp, () => kvHeadsPerRank(llm, a.prefillTp));
    forFlag('decode-tp', a.decodeTp, () => kvHeadsPerRank(llm, a.decodeTp));
    forFlag('placement', a.placement, () => checkPlacement(transport, a.placement));
    forFlag('placement', a.placement, () => checkNvlinkDomain(transport, node, a.placement, a.prefillTp + a.decodeTp));
    const gpu = c.gpus.get(node.gpu)!;
    const est = estimateTransfer({
      llm,
      transport,
      tokens: a.tokens ?? 1,
      ...(a.bytes !== undefined ? { bytes: a.bytes, ...(a.descriptorBytes !== undefined ? { descriptorBytes: a.descriptorBytes } : {}) } : {}),
      ...(a.rails !== undefined ? { rails: a.rails } : {}),
      prefillTp: a.prefillTp,
      decodeTp: a.decodeTp,
      prefillNode: node,
      decodeNode: node,
      hostLinkBandwidth: gpu.hostLink.copyBandwidth,
      placement: a.placement,
      bandwidth: a.bandwidth,
      prefillBlockSize: a.prefillBlockSize,
      kvLayout: a.kvLayout,
      ...(a.nicGbps !== undefined ? { nicGbps: a.nicGbps } : {}),
      concurrent: a.concurrent,
      timeoutS: a.timeoutS ?? originalAbortTimeoutS(c),
    });
    if (a.json) {
      const { bytesTotal, bytesPerDecodeRank, reads, descriptors, ms, effectiveGBps, timeoutS, exceedsTimeout } = est;
      console.log(JSON.stringify({ bytesTotal, bytesPerDecodeRank, reads, descriptors, ms, effectiveGBps, timeoutS, exceedsTimeout }));
      return;
    }
    const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;
    const lines = [
      (a.bytes !== undefined ? `${a.bytes.toLocaleString('en-US')} B in ${est.descriptors.toLocaleString('en-US')} descriptor(s), ` : `${llm.id}: ${a.tokens!.toLocaleString('en-US')} tokens, prefill TP${a.prefillTp} -> decode TP${a.decodeTp}, `) +
        `${transport.id} on ${node.id} (${a.placement}, ${a.bandwidth} bandwidth)` +
        (a.concurrent > 1 ? `, ${a.concurrent} transfers at once` : ''),
      '',
      `KV moved            ${gb(est.bytesTotal)} (${est.bytesTotal.toLocaleString('en-US')} B), ${gb(est.bytesPerDecodeRank)} per decode rank`,
      `NIXL READs          ${est.reads} per request, ${est.descriptors.toLocaleString('en-US')} descriptors` + (a.bytes === undefined ? ` (${a.kvLayout}, blocks of ${a.prefillBlockSize} tokens)` : ''),
      `rails               prefill ${est.prefillRails}, decode ${est.decodeRails}, bottleneck ${(est.bandwidth / 1e9).toFixed(2)} GB/s`,
      `setup               ${(est.setupS * 1000).toFixed(3)} ms (latency, READ requests and notifications)`,
      `posting             ${(est.postingS * 1000).toFixed(3)} ms (descriptors, overlapping the wire's ${(est.wireS * 1000).toFixed(3)} ms)`,
      `transfer time       ${fmtTime(est.ms / 1000)}  (effective ${est.effectiveGBps.toFixed(2)} GB/s)`,
      `abort timeout       ${est.timeoutS} s: ${est.exceedsTimeout ? 'EXCEEDED: prefill frees the blocks first ("Releasing expired KV blocks ... 0 decode worker(s)"); decode falls back or reads stale memory' : 'within'}`,
    ];
    if (est.placementWarning) lines.push('', `warning: ${est.placementWarning}`);
    console.log(lines.join('\n'));
  },
};

function fmtTime(s: number): string {
  return s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1000).toFixed(1)} ms`;
}
