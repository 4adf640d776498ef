import type { Catalog, ExpiryModel, LlmSpec, TransportSpec } from '../spec/catalog.js';
import { releaseTable } from '../catalog/vllm.js';
import { scaleDecimal } from '../catalog/index.js';
import { kvBytesPerToken } from '../physics/index.js';
import { truthTableMarkdown } from './truth-table.js';

/**
 * Markdown tables of the catalog for docs/model.md, generated so that the documentation cannot drift from models/:
 * `npm run docs` rewrites the marked sections and a test fails when they are stale.
 */
const num = (x: number, exp: number): string => String(scaleDecimal(x, -exp));

function sourceOf(t: { sources: Record<string, string> }, ...keys: string[]): string {
  const seen = new Set<string>();
  for (const k of keys) {
    for (const [key, text] of Object.entries(t.sources)) {
      if (key === k || key.startsWith(`${k}.`)) seen.add(text);
    }
  }
  return [...seen].join('; ').replace(/\|/g, '\\|');
}

/** A striped transport's rail rule in words: which NICs one rank's READs use, and a rail's share of line rate. */
function railText(t: TransportSpec): string {
  const rule = t.railRule.rule === 'per-rank-max' ? `up to ${t.railRule.max} NICs a rank` : t.railRule.rule === 'all-node-nics' ? "every NIC of the node" : "its GPU's NICs";
  return t.lineRateShare < 1 ? `${rule}, ${Math.round(t.lineRateShare * 100)}% of line rate` : rule;
}

export function transportsMarkdown(c: Catalog): string {
  const ts = [...c.transports.values()].sort((a, b) => a.id.localeCompare(b.id));
  const placement = (t: TransportSpec) => t.placements.map((p) => `${p.placement}: ${p.outcome}`).join(', ');
  const rows = ts.map((t) =>
    [
      `\`${t.id}\``,
      t.backend,
      `${num(t.bandwidthPerRail.min, 9)} / ${num(t.bandwidthPerRail.typical, 9)} / ${num(t.bandwidthPerRail.max, 9)}`,
      t.striped ? railText(t) : 'one path',
      num(t.latencyS, -6),
      `${num(t.perReadS, -6)} / ${num(t.perDescriptorS, -6)}` + (t.perDescriptorRange ? ` (${num(t.perDescriptorRange.min, -6)}-${num(t.perDescriptorRange.max, -6)})` : ''),
      t.gpuDirect ? 'GPUDirect' : 'through host memory',
      placement(t),
      sourceOf(t, 'bandwidthPerRailGBps', 'latencyUs', 'perReadUs', 'perDescriptorUs', 'perDescriptorUsRange', 'railRule', 'lineRateShare', 'placements'),
    ].join(' | '),
  );
  return [
    '| transport | backend | GB/s per rail (min / typical / max) | striping | latency (us) | per READ / per descriptor (us) | path | placements | sources |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}

/** A MoE model's routing in words: experts per token of the routed ones, shared ones, the dense layers first; '-' for a dense model. */
function moeText(m: LlmSpec): string {
  const e = m.moe;
  if (e === undefined) return '-';
  const groups = e.expertGroups !== undefined ? ` in ${e.groupsPerToken} of ${e.expertGroups} groups` : '';
  const shared = e.sharedExperts > 0 ? ` + ${e.sharedExperts} shared` : '';
  const dense = e.firstDenseLayers > 0 ? `; first ${e.firstDenseLayers} layers dense` : '';
  return `${e.expertsPerToken} of ${e.routedExperts}${groups}${shared} (${e.moeIntermediateSize} wide)${dense}`;
}

export function modelsMarkdown(c: Catalog): string {
  const ms = [...c.llms.values()].sort((a, b) => a.id.localeCompare(b.id));
  return [
    '| model | attention | layers | KV heads x head dim | experts a token uses (MoE) | weights / KV dtype | KV bytes per token | max context |',
    '|---|---|---|---|---|---|---|---|',
    ...ms.map(
      (m) =>
        `| \`${m.id}\` | ${m.attention} | ${m.layers} | ${m.attention === 'mla' ? `latent ${m.mla?.kvLoraRank} + rope ${m.mla?.ropeDim}` : `${m.kvHeads} x ${m.headDim}`} | ${moeText(m)} | ${m.weightDtype} / ${m.kvDtype} | ${kvBytesPerToken(m).toLocaleString('en-US')} | ${m.maxContext.toLocaleString('en-US')} |`,
    ),
  ].join('\n');
}

export function gpusMarkdown(c: Catalog): string {
  const gs = [...c.gpus.values()].sort((a, b) => a.id.localeCompare(b.id));
  const f = (x: { value: number; min: number; max: number }, exp = 0) => `${num(x.value, exp)} (${num(x.min, exp)}-${num(x.max, exp)})`;
  return [
    '| GPU | bf16 / fp8 TFLOP/s | HBM GB, TB/s | NVLink GB/s | host link | prefill compute eff. | decode memory eff. | host ms a step | eager / piecewise ms a layer | all-reduce us | connector ms a step | vLLM batch defaults |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...gs.map(
      (g) =>
        `| \`${g.id}\` | ${num(g.flops.bf16, 12)} / ${g.flops.fp8 === null ? '-' : num(g.flops.fp8, 12)} | ${num(g.hbmBytes, 9)}, ${num(g.hbmBandwidth, 12)} | ${num(g.nvlinkBandwidth, 9)} | ${g.hostLink.name}, ${num(g.hostLink.bandwidth, 9)} GB/s${g.hostLink.copyBandwidth !== g.hostLink.bandwidth ? ` (copies ${num(g.hostLink.copyBandwidth, 9)}, both ways ${num(g.hostLink.duplexBandwidth, 9)})` : ''} | ${f(g.efficiency.prefillCompute)} | ${f(g.efficiency.decodeMemory)} | ${f(g.efficiency.stepOverheadS, -3)} | ${f(g.efficiency.eagerLayerOverheadS, -3)} / ${f(g.efficiency.piecewiseLayerOverheadS, -3)} | ${f(g.efficiency.allReduceLatencyS, -6)} | ${f(g.efficiency.connectorStepOverheadS, -3)} | ${g.vllmBatchDefaults.maxNumBatchedTokens} tokens, ${g.vllmBatchDefaults.maxNumSeqs} seqs |`,
    ),
  ].join('\n');
}

export function nodesMarkdown(c: Catalog): string {
  const ns = [...c.nodes.values()].sort((a, b) => a.id.localeCompare(b.id));
  return [
    '| node | GPUs | NICs | transports |',
    '|---|---|---|---|',
    ...ns.map(
      (n) =>
        `| \`${n.id}\` | ${n.gpusPerNode} x ${n.gpu}${n.nvlinkDomainGpus > n.gpusPerNode ? ` (NVLink domain of ${n.nvlinkDomainGpus})` : ''} | ${n.nics.count} x ${num(n.nics.bandwidth * 8, 9)} Gb/s ${n.nics.kind} | ${n.transports.join(', ')} |`,
    ),
  ].join('\n');
}

/** vLLM release -> connector profile (`--vllm`, `deployment.vllm`), with each range's source. */
export function vllmReleasesMarkdown(c: Catalog): string {
  const expiry = (e: ExpiryModel) => (e.kind === 'abort-timeout' ? `abort after ${e.timeoutS} s` : `lease ${e.leaseS} s, heartbeat ${e.heartbeatS} s, extend ${e.extendS} s`);
  return [
    '| vLLM releases | profile | expiry | source |',
    '|---|---|---|---|',
    ...releaseTable(c).map(
      (r) => `| \`${r.release.versions}\` | \`${r.profile.id}\` | ${expiry(r.release.expiry ?? r.profile.expiry)} | ${r.release.source.replace(/\s+/g, ' ').replace(/\|/g, '\\|')} |`,
    ),
  ].join('\n');
}

/** Every generated section, by the marker name it sits between in docs/model.md. */
export function modelDocSections(c: Catalog): Record<string, string> {
  return {
    models: modelsMarkdown(c),
    gpus: gpusMarkdown(c),
    nodes: nodesMarkdown(c),
    'vllm-releases': vllmReleasesMarkdown(c),
    transports: transportsMarkdown(c),
    'truth-table': truthTableMarkdown(c, c.llms.get('llama-3.1-70b-instruct-fp8')!),
  };
}

/** Replaces each `<!-- name:begin -->...<!-- name:end -->` section of `text` with its generated content. */
export function fillSections(text: string, sections: Record<string, string>): string {
  let out = text;
  for (const [name, body] of Object.entries(sections)) {
    const re = new RegExp(`(<!-- ${name}:begin -->)[\\s\\S]*?(<!-- ${name}:end -->)`);
    if (!re.test(out)) throw new Error(`no <!-- ${name}:begin --> / <!-- ${name}:end --> markers in the document`);
    out = out.replace(re, (_m, a: string, b: string) => `${a}\n${body}\n${b}`);
  }
  return out;
}
