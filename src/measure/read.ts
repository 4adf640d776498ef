import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { UserError } from '../errors.js';
import { shownPath } from '../yaml/positions.js';
import { fileLines, splitCsvLine } from './csv.js';
import { readGenaiPerfCsv, readGenaiPerfJson } from './genai-perf.js';
import { readPlainCsv } from './plain-csv.js';
import { MEASURE_FORMATS, type MeasureDefaults, type MeasuredPoint, type MeasureFormat } from './types.js';
import { readVllmRecord, VLLM_KEYS, type VllmRecord } from './vllm.js';
import { readInputText } from '../input.js';

/** genai-perf JSON exports carry these (metric objects with a unit, or the command line it ran). */
const GENAI_PERF_KEYS = ['input_config', 'time_to_first_token', 'request_latency', 'output_token_throughput', 'inter_token_latency'];

export interface ReadOptions extends MeasureDefaults {
  /** Skip detection. */
  format?: MeasureFormat;
}

/**
 * The measured points of a file, whichever format it is in. The format is detected from the content (and the
 * extension where the content is ambiguous): a CSV whose first cell is `Metric` is genai-perf's CSV export, any
 * other CSV the plain format; a JSON object with vLLM's keys (mean_ttft_ms, output_throughput, ...) is a vLLM bench
 * result, one with genai-perf's (input_config, time_to_first_token: {unit, avg, ...}) a genai-perf export; a file of
 * one JSON object per line is vLLM's --append-result. A mistake is one UserError naming the file, line, row and field.
 */
export function readMeasurements(file: string, opts: ReadOptions = {}): MeasuredPoint[] {
  const shown = shownPath(file);
  if (!existsSync(file)) throw new UserError(`measurements file '${shown}' not found`);
  if (statSync(file).isDirectory()) throw new UserError(`'${shown}' is a directory; expected a measurements file (.csv or .json)`);
  const text = readInputText(file, 'measurements file');
  const defaults: MeasureDefaults = {};
  for (const k of ['isl', 'osl', 'concurrency'] as const) if (opts[k] !== undefined) defaults[k] = opts[k];
  const json = looksJson(file, text);
  const format = opts.format ?? (json ? detectJson(text, shown) : detectCsv(text));
  switch (format) {
    case 'plain-csv':
      return readPlainCsv(text, shown, defaults);
    case 'genai-perf-csv':
      return [readGenaiPerfCsv(text, shown, defaults)];
    case 'genai-perf-json':
      return [readGenaiPerfJson(parseObject(text, shown), text, shown, defaults)];
    case 'vllm-bench':
      return jsonRecords(text, shown).map((r) => readVllmRecord(r, shown, defaults));
  }
}

export function isMeasureFormat(s: string): s is MeasureFormat {
  return (MEASURE_FORMATS as readonly string[]).includes(s);
}

function looksJson(file: string, text: string): boolean {
  const ext = extname(file).toLowerCase();
  if (ext === '.json' || ext === '.jsonl') return true;
  if (ext === '.csv') return false;
  return text.replace(/^\uFEFF/, '').trimStart().startsWith('{');
}

function detectCsv(text: string): MeasureFormat {
  const first = fileLines(text).find((l) => l.text.trim() !== '' && !l.text.trimStart().startsWith('#'));
  const cells = first ? splitCsvLine(first.text) : [];
  return Array.isArray(cells) && cells[0]?.toLowerCase() === 'metric' ? 'genai-perf-csv' : 'plain-csv';
}

function detectJson(text: string, shown: string): MeasureFormat {
  const [first] = jsonRecords(text, shown);
  const keys = Object.keys(first!.data);
  if (VLLM_KEYS.some((k) => keys.includes(k))) return 'vllm-bench';
  if (GENAI_PERF_KEYS.some((k) => keys.includes(k))) return 'genai-perf-json';
  throw new UserError(
    `neither a vLLM bench serve result (keys such as ${VLLM_KEYS.slice(0, 3).join(', ')}) nor a genai-perf export (${GENAI_PERF_KEYS.slice(0, 2).join(', ')}); ` +
      'for other tools write the plain CSV (docs/planning.md: Measurement files)',
    `${shown}:${first!.line}`,
  );
}

function parseObject(text: string, shown: string): Record<string, unknown> {
  const records = jsonRecords(text, shown);
  if (records.length > 1) throw new UserError(`a genai-perf export is one JSON object; this file has ${records.length} lines of JSON objects`, shown);
  return records[0]!.data;
}

/** The file as one JSON object, or failing that as JSON Lines (one object per non-blank line). */
function jsonRecords(text: string, shown: string): VllmRecord[] {
  const body = text.replace(/^\uFEFF/, '');
  let whole: unknown;
  let wholeError: string | undefined;
  try {
    whole = JSON.parse(body);
  } catch (err) {
    wholeError = (err as Error).message;
  }
  if (wholeError === undefined) {
    if (whole === null || typeof whole !== 'object' || Array.isArray(whole)) throw new UserError('expected a JSON object (one benchmark result)', shown);
    const line = fileLines(body).find((l) => l.text.trim() !== '')?.line ?? 1;
    return [{ data: whole as Record<string, unknown>, row: 1, line, text: body, firstLine: 1 }];
  }
  const lines = fileLines(body).filter((l) => l.text.trim() !== '');
  if (lines.length <= 1) throw new UserError(`not valid JSON: ${wholeError}`, shown);
  return lines.map((l, i) => {
    let data: unknown;
    try {
      data = JSON.parse(l.text);
    } catch (err) {
      throw new UserError(`row ${i + 1}: not valid JSON (a JSON Lines file has one object per line): ${(err as Error).message}`, `${shown}:${l.line}`);
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new UserError(`row ${i + 1}: expected a JSON object`, `${shown}:${l.line}`);
    return { data: data as Record<string, unknown>, row: i + 1, line: l.line, text: l.text, firstLine: l.line };
  });
}
