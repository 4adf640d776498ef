import type { Catalog, ConnectorProfile, LlmSpec } from '../spec/catalog.js';
import { handshakeMatrix, type HandshakeVerdict } from '../nixl/index.js';
import { connectorsByRelease } from '../catalog/vllm.js';

type Cell = { prefillTp: number; decodeTp: number; verdict: HandshakeVerdict };

const short = (v: HandshakeVerdict): string =>
  v.outcome === 'ok' ? `ok (${v.readsPerRequest} READ${v.readsPerRequest > 1 ? 's' : ''})` : `${v.outcome}: ${v.error}`;

/** Prefill TP down, decode TP across, as plain text. */
export function matrixText(cells: Cell[]): string {
  const tps = [...new Set(cells.map((c) => c.decodeTp))];
  const rows = [...new Set(cells.map((c) => c.prefillTp))];
  const text = (p: number, d: number) => short(cells.find((c) => c.prefillTp === p && c.decodeTp === d)!.verdict);
  const w = Math.max(12, ...cells.map((c) => short(c.verdict).length));
  const head = 'prefill\\decode'.padEnd(15) + tps.map((d) => `TP${d}`.padEnd(w + 2)).join('');
  return [head, ...rows.map((p) => `TP${p}`.padEnd(15) + tps.map((d) => text(p, d).padEnd(w + 2)).join(''))].join('\n').replace(/ +$/gm, '');
}

/**
 * The truth table of docs/model.md: for each profile, prefill TP down and decode TP across, with equal block sizes
 * and with a decode block twice the prefill's.
 */
export function truthTableMarkdown(c: Catalog, llm: LlmSpec): string {
  // In the order vLLM grew them: by the earliest release each profile's record places.
  const profiles: ConnectorProfile[] = connectorsByRelease(c).map((id) => c.connectors.get(id)!);
  const tps = [1, 2, 4, 8];
  const out: string[] = [];
  for (const ratio of [1, 2]) {
    out.push(`Block sizes: prefill 16, decode ${16 * ratio} (ratio ${ratio}). Cells: outcome (READs per request) or outcome: error.`, '');
    out.push(`| profile | prefill TP | ${tps.map((d) => `decode TP${d}`).join(' | ')} |`, `|---|---|${tps.map(() => '---').join('|')}|`);
    for (const prof of profiles) {
      const cells = handshakeMatrix(prof, llm, tps, { prefill: 16, decode: 16 * ratio });
      for (const p of tps) {
        const row = tps.map((d) => short(cells.find((x) => x.prefillTp === p && x.decodeTp === d)!.verdict));
        out.push(`| \`${prof.id}\` | ${p} | ${row.join(' | ')} |`);
      }
    }
    out.push('');
  }
  return out.join('\n').trimEnd();
}

