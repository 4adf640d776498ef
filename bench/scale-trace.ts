/**
 * The trace the scale benchmark replays: the real Azure LLM 2023 code trace (8,819 requests over about an hour,
 * traces/azure-llm-2023-code.csv) laid end to end until it holds `count` records, each copy starting one
 * mean inter-arrival gap after the previous copy's last record. Same columns and timestamp format as the original,
 * so the ordinary Azure reader replays it. Written once (temp file + rename) and reused while it has the right size.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { TraceReader } from '../src/workload/traces.js';

export interface TileRow {
  /** Microseconds since the first record. */
  us: number;
  context: number;
  generated: number;
}

/** Rows of an Azure trace (read by the simulator's own reader) with times in whole microseconds from its first row. */
export function readAzureRows(file: string): TileRow[] {
  return [...new TraceReader('azure', file)].map((r) => ({ us: Math.round(r.offsetS * 1e6), context: r.isl, generated: r.osl }));
}

const BASE_MS = Date.UTC(2023, 10, 16, 0, 0, 0);

function stamp(us: number): string {
  const d = new Date(BASE_MS + Math.floor(us / 1000));
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const frac = p((us % 1e6) * 10, 7);
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${frac}`;
}

/** Writes `count` records tiled from `rows` to `out` unless a file with exactly that many records is already there. */
export function writeTiledTrace(rows: readonly TileRow[], count: number, out: string): void {
  if (existsSync(out) && readFileSync(out, 'utf8').split('\n').length - 2 === count) return;
  mkdirSync(dirname(out), { recursive: true });
  const span = rows[rows.length - 1]!.us;
  const gap = Math.round(span / (rows.length - 1));
  const tmp = `${out}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    let chunk = 'TIMESTAMP,ContextTokens,GeneratedTokens\n';
    for (let i = 0; i < count; i++) {
      const copy = Math.floor(i / rows.length);
      const r = rows[i % rows.length]!;
      chunk += `${stamp(copy * (span + gap) + r.us)},${r.context},${r.generated}\n`;
      if (chunk.length > 1 << 20) {
        writeSync(fd, chunk);
        chunk = '';
      }
    }
    writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, out);
}
