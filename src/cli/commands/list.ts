import type { CommandModule } from 'yargs';
import { defaultCatalog, recordOrigin, scaleDecimal } from '../../catalog/index.js';
import type { Catalog, ConnectorProfile, GpuSpec, LlmSpec, NodeSpec, TransportSpec } from '../../catalog/index.js';
import { kvBytesPerToken } from '../../physics/index.js';
import { textTable } from '../../report/table.js';
import { shownPath } from '../../yaml/positions.js';

const KINDS = ['models', 'gpus', 'nodes', 'transports', 'connectors'] as const;
type Kind = (typeof KINDS)[number];

interface Args {
  kind: Kind;
  json: boolean;
}

/** SI back to datasheet units, on the decimal digits so that 3.35e12 shows as 3.35 and not 3.3500000000000005. */
const inUnit = (x: number, exp: number): string => String(scaleDecimal(x, -exp));
const int = (n: number): string => n.toLocaleString('en-US');
const yesNo = (b: boolean): string => (b ? 'yes' : 'no');

type Row = string[];
interface Table {
  head: Row;
  rows: Row[];
  /** Columns aligned right (numbers). */
  right: number[];
}

function render({ head, rows, right }: Table): string {
  return textTable(head, rows, (i) => !right.includes(i)).join('\n');
}

function modelsTable(ms: LlmSpec[]): Table {
  return {
    head: ['id', 'attention', 'layers', 'kv heads', 'head dim', 'KV B/token', 'max ctx', 'params', 'experts', 'weights', 'KV dtype'],
    rows: ms.map((m) => [
      m.id,
      m.attention,
      String(m.layers),
      String(m.kvHeads),
      String(m.headDim),
      int(kvBytesPerToken(m)),
      int(m.maxContext),
      m.activeParams === m.params ? `${inUnit(m.params, 9)}B` : `${inUnit(m.params, 9)}B (${inUnit(m.activeParams, 9)}B active)`,
      m.moe ? `${m.moe.expertsPerToken} of ${m.moe.routedExperts}${m.moe.sharedExperts ? ` + ${m.moe.sharedExperts} shared` : ''}` : '-',
      m.weightDtype,
      m.kvDtype,
    ]),
    right: [2, 3, 4, 5, 6],
  };
}

function gpusTable(gs: GpuSpec[]): Table {
  return {
    head: ['id', 'bf16 TFLOP/s', 'fp8 TFLOP/s', 'HBM GB', 'HBM TB/s', 'NVLink GB/s', 'host link', 'prefill eff', 'decode eff', 'host ms a step'],
    rows: gs.map((g) => [
      g.id,
      inUnit(g.flops.bf16, 12),
      g.flops.fp8 === null ? '-' : inUnit(g.flops.fp8, 12),
      inUnit(g.hbmBytes, 9),
      inUnit(g.hbmBandwidth, 12),
      inUnit(g.nvlinkBandwidth, 9),
      `${g.hostLink.name}, ${inUnit(g.hostLink.bandwidth, 9)} GB/s${g.hostLink.copyBandwidth !== g.hostLink.bandwidth ? ` (copies ${inUnit(g.hostLink.copyBandwidth, 9)})` : ''}`,
      String(g.efficiency.prefillCompute.value),
      String(g.efficiency.decodeMemory.value),
      inUnit(g.efficiency.stepOverheadS.value, -3),
    ]),
    right: [1, 2, 3, 4, 5, 7, 8, 9],
  };
}

function nodesTable(ns: NodeSpec[]): Table {
  return {
    head: ['id', 'gpu', 'gpus', 'nics', 'transports'],
    // NIC line rates are quoted in Gb/s (bits) on datasheets: show them that way.
    rows: ns.map((n) => [
      n.id,
      n.gpu,
      n.nvlinkDomainGpus > n.gpusPerNode ? `${n.gpusPerNode} (NVLink domain ${n.nvlinkDomainGpus})` : String(n.gpusPerNode),
      `${n.nics.count} x ${n.nics.kind} ${inUnit(n.nics.bandwidth * 8, 9)} Gb/s`,
      n.transports.join(', '),
    ]),
    right: [2],
  };
}

function transportsTable(ts: TransportSpec[]): Table {
  const bw = (t: TransportSpec) => [t.bandwidthPerRail.min, t.bandwidthPerRail.typical, t.bandwidthPerRail.max].map((x) => inUnit(x, 9)).join('/');
  return {
    head: ['id', 'backend', 'GB/s per rail min/typ/max', 'latency us', 'per read us', 'GPUDirect', 'striped', 'intra-pod/same-node/cross-node'],
    rows: ts.map((t) => [
      t.id,
      t.backend,
      bw(t),
      inUnit(t.latencyS, -6),
      inUnit(t.perReadS, -6),
      yesNo(t.gpuDirect),
      yesNo(t.striped),
      t.placements.map((p) => p.outcome).join('/'),
    ]),
    right: [2, 3, 4],
  };
}

function connectorsTable(cs: ConnectorProfile[]): Table {
  const expiry = (p: ConnectorProfile) =>
    p.expiry.kind === 'abort-timeout' ? `abort after ${p.expiry.timeoutS} s` : `lease ${p.expiry.leaseS} s (+${p.expiry.extendS} s every ${p.expiry.heartbeatS} s)`;
  return {
    head: ['id', 'vLLM releases', 'decode wider', 'prefill wider', 'block sizes', 'handshake timeout', 'failed handshake', 'expiry', 'upstream'],
    rows: cs.map((p) => [
      p.id,
      (p.vllmReleases ?? []).map((r) => `${r.versions}${r.expiry ? ` (${expiry({ ...p, expiry: r.expiry })})` : ''}`).join('; ') || '-',
      p.tp.decodeWider,
      p.tp.prefillWider,
      p.blockSize.rule,
      p.handshake.timeoutS === null ? 'none' : `${p.handshake.timeoutS} s`,
      p.handshake.onFailure,
      expiry(p),
      p.upstream.join('; '),
    ]),
    right: [],
  };
}

function recordsOf(c: Catalog, kind: Kind): LlmSpec[] | GpuSpec[] | NodeSpec[] | TransportSpec[] | ConnectorProfile[] {
  switch (kind) {
    case 'models':
      return [...c.llms.values()];
    case 'gpus':
      return [...c.gpus.values()];
    case 'nodes':
      return [...c.nodes.values()];
    case 'transports':
      return [...c.transports.values()];
    case 'connectors':
      return [...c.connectors.values()];
  }
}

/** Whether any record of the catalog comes from a user's directory (--catalog, NIXLSIM_CATALOG). */
function hasUserRecords(c: Catalog): boolean {
  return KINDS.some((k) => recordsOf(c, k).some((r) => recordOrigin(r)?.layer === 'user'));
}

/** A record's origin as the origin column shows it: package, or the user's file (and whether it replaces the package's). */
function originText(r: object): string {
  const o = recordOrigin(r);
  if (o === undefined || o.layer === 'package') return 'package';
  return `${shownPath(o.file)}${o.overrides !== undefined ? ' (overrides package)' : ''}`;
}

/** The same as JSON: where the record was read from. */
function originJson(r: object): { layer: 'package' | 'user'; file?: string; overrides?: string } {
  const o = recordOrigin(r);
  if (o === undefined) return { layer: 'package' };
  return { layer: o.layer, file: shownPath(o.file), ...(o.overrides !== undefined ? { overrides: shownPath(o.overrides) } : {}) };
}

function kindTable(kind: Kind, records: object[]): Table {
  switch (kind) {
    case 'models':
      return modelsTable(records as LlmSpec[]);
    case 'gpus':
      return gpusTable(records as GpuSpec[]);
    case 'nodes':
      return nodesTable(records as NodeSpec[]);
    case 'transports':
      return transportsTable(records as TransportSpec[]);
    case 'connectors':
      return connectorsTable(records as ConnectorProfile[]);
  }
}

/**
 * The listing as text, for the handler and for tests. With a user catalog in use, each record also says where it
 * came from (an `origin` column; `origin` in JSON): the package, or the user's file, marked when it overrides the
 * package's record of the same id.
 */
export function listText(c: Catalog, kind: Kind, json: boolean): string {
  const records: object[] = recordsOf(c, kind);
  const user = hasUserRecords(c);
  // The catalog builds every record with a fixed key order and keeps ids sorted, so this output diffs cleanly.
  if (json) return JSON.stringify(user ? records.map((r) => ({ ...r, origin: originJson(r) })) : records, null, 2);
  const t = kindTable(kind, records);
  if (user) {
    t.head.push('origin');
    t.rows.forEach((row, i) => row.push(originText(records[i]!)));
  }
  return render(t);
}

/** `nixlsim list models|gpus|nodes|transports [--json]`: what the catalog holds (the user's too), in datasheet units. */
export const listCommand: CommandModule<object, Args> = {
  command: 'list <kind>',
  describe: 'List the catalog: models, gpus, nodes, transports or connectors',
  builder: (y) =>
    y
      .positional('kind', { choices: KINDS, demandOption: true, describe: 'what to list' })
      .option('json', { type: 'boolean', default: false, describe: 'print the records as JSON (SI units: bytes, bytes/s, FLOP/s, seconds)' }),
  handler: (args) => {
    console.log(listText(defaultCatalog(), args.kind, args.json));
  },
};
