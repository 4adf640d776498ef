import { closest } from '../catalog/suggest.js';
import { UserError } from '../errors.js';
import { fileLines, splitCsvLine } from './csv.js';
import type { MeasureDefaults, MeasuredPoint } from './types.js';

/**
 * The plain measurement CSV: a header, then one measured run per row. Blank lines and lines starting with '#' are
 * skipped (and not counted as rows). Units are fixed by the column names: milliseconds for *_ms, output tokens per
 * second for throughput, tokens for isl/osl/kv_tokens, bytes for kv_bytes. Empty cells are allowed: a metric nobody
 * measured, or isl/osl/concurrency left to --isl/--osl/--concurrency.
 */
export const PLAIN_COLUMNS = ['isl', 'osl', 'concurrency', 'ttft_ms', 'itl_ms', 'latency_ms', 'throughput', 'kv_bytes', 'kv_tokens', 'kv_transfer_ms'] as const;
type Column = (typeof PLAIN_COLUMNS)[number];

const WHOLE: readonly Column[] = ['isl', 'osl', 'concurrency', 'kv_tokens'];
const MEASURED: readonly Column[] = ['ttft_ms', 'itl_ms', 'latency_ms', 'throughput', 'kv_transfer_ms'];

export function readPlainCsv(text: string, shown: string, defaults: MeasureDefaults = {}): MeasuredPoint[] {
  const lines = fileLines(text).filter((l) => l.text.trim() !== '' && !l.text.trimStart().startsWith('#'));
  const head = lines[0];
  if (!head) throw new UserError(`empty file; expected a header with columns ${PLAIN_COLUMNS.slice(0, 7).join(', ')}`, shown);
  const split = splitCsvLine(head.text);
  if ('error' in split) throw new UserError(`header: ${split.error}`, `${shown}:${head.line}`);
  const columns: Column[] = [];
  for (const [i, raw] of split.entries()) {
    const name = raw.toLowerCase();
    if (!(PLAIN_COLUMNS as readonly string[]).includes(name)) {
      const guess = closest(name, PLAIN_COLUMNS);
      const hint = guess ? `did you mean '${guess}'?` : `expected one of ${PLAIN_COLUMNS.join(', ')}`;
      throw new UserError(`header: unknown column '${raw}' (column ${i + 1}); ${hint}`, `${shown}:${head.line}`);
    }
    if (columns.includes(name as Column)) throw new UserError(`header: column '${name}' appears twice`, `${shown}:${head.line}`);
    columns.push(name as Column);
  }
  if (!columns.some((c) => MEASURED.includes(c))) {
    throw new UserError(`header: no measured column; expected at least one of ${MEASURED.join(', ')}`, `${shown}:${head.line}`);
  }

  const points: MeasuredPoint[] = [];
  for (const [k, l] of lines.slice(1).entries()) {
    const row = k + 1;
    const where = `${shown}:${l.line}`;
    const cells = splitCsvLine(l.text);
    if ('error' in cells) throw new UserError(`row ${row}: ${cells.error}`, where);
    if (cells.length !== columns.length) {
      throw new UserError(`row ${row}: ${cells.length} cells, but the header has ${columns.length} columns (${columns.join(', ')})`, where);
    }
    const v: Partial<Record<Column, number>> = {};
    cells.forEach((cell, i) => {
      const col = columns[i]!;
      if (cell === '') return;
      const n = Number(cell);
      const whole = WHOLE.includes(col);
      if (!Number.isFinite(n) || n <= 0 || (whole && !Number.isInteger(n))) {
        throw new UserError(`row ${row}, column ${col}: expected ${whole ? 'a whole number >= 1' : 'a number > 0'}, got '${cell}'`, where);
      }
      v[col] = n;
    });
    if (!MEASURED.some((c) => v[c] !== undefined)) {
      throw new UserError(`row ${row}: nothing measured; fill in at least one of ${MEASURED.join(', ')}`, where);
    }
    // A row that measured only a KV transfer describes no serving run: its lengths default to the transfer's.
    const transferOnly = !MEASURED.some((c) => c !== 'kv_transfer_ms' && v[c] !== undefined);
    const fallback = { isl: transferOnly ? v.kv_tokens : undefined, osl: transferOnly ? 1 : undefined, concurrency: transferOnly ? 1 : undefined };
    const need = (col: 'isl' | 'osl' | 'concurrency'): number => {
      const x = v[col] ?? defaults[col] ?? fallback[col];
      if (x === undefined) {
        const why = columns.includes(col) ? 'is empty' : 'is not a column of this file';
        throw new UserError(`row ${row}, column ${col}: ${why}; fill it in or give --${col}`, where);
      }
      return x;
    };
    const p: MeasuredPoint = { file: shown, format: 'plain-csv', row, line: l.line, isl: need('isl'), osl: need('osl'), concurrency: need('concurrency'), statistic: {} };
    // The plain format's latencies are means (docs/planning.md): the statistic the model's comparison uses.
    if (v.ttft_ms !== undefined) {
      p.ttftMs = v.ttft_ms;
      p.statistic.ttft = 'mean';
    }
    if (v.itl_ms !== undefined) {
      p.itlMs = v.itl_ms;
      p.statistic.itl = 'mean';
    }
    if (v.latency_ms !== undefined) {
      p.latencyMs = v.latency_ms;
      p.statistic.latency = 'mean';
    }
    if (v.throughput !== undefined) p.throughput = v.throughput;
    if (v.kv_bytes !== undefined) p.kvBytes = v.kv_bytes;
    if (v.kv_tokens !== undefined) p.kvTokens = v.kv_tokens;
    if (v.kv_transfer_ms !== undefined) p.kvTransferMs = v.kv_transfer_ms;
    if (p.kvTransferMs !== undefined && p.kvBytes === undefined && p.kvTokens === undefined) {
      throw new UserError(`row ${row}, column kv_transfer_ms: a transfer time needs its size in kv_bytes or kv_tokens`, where);
    }
    points.push(p);
  }
  if (points.length === 0) throw new UserError('no data rows after the header', shown);
  return points;
}
