import { UserError } from '../errors.js';
import { YamlSource, type Path } from '../yaml/positions.js';
import type { MeasureDefaults, MeasuredPoint, Statistic } from './types.js';

/**
 * vLLM's `vllm bench serve --save-result` (formerly benchmarks/benchmark_serving.py) result JSON: flat keys
 * `mean_ttft_ms`, `median_ttft_ms`, `p99_ttft_ms`, the same for `tpot`, `itl` and `e2el` (e2el only when
 * --percentile-metrics asked for it), `output_throughput` (output tokens/s), `request_throughput`, `completed`,
 * `total_input_tokens`, `total_output_tokens` and `max_concurrency` (null when the run was not capped).
 * `--append-result` writes one JSON object per line; each line is one point (row = its record number).
 *
 * Mapping: TTFT from `*_ttft_ms`; ITL from `*_tpot_ms`, which is genai-perf's and nixlsim's per-request ITL
 * ((latency - TTFT) / (output tokens - 1)), falling back to `*_itl_ms` (vLLM's mean over every token gap); latency
 * from `*_e2el_ms`; throughput from `output_throughput`. The mean unless only the median or a percentile is there.
 * isl and osl are total_input_tokens / completed and total_output_tokens / completed (rounded); concurrency is
 * max_concurrency, or --concurrency when it is null (an uncapped run has no fixed concurrency).
 */

const STATS: readonly [string, Statistic][] = [
  ['mean', 'mean'],
  ['median', 'p50'],
  ['p50', 'p50'],
  ['p90', 'p90'],
  ['p95', 'p95'],
  ['p99', 'p99'],
];

/** Keys that tell a vLLM result from other JSON. */
export const VLLM_KEYS = ['mean_ttft_ms', 'median_ttft_ms', 'mean_tpot_ms', 'output_throughput', 'total_output_tokens'];

export interface VllmRecord {
  data: Record<string, unknown>;
  /** 1-based record number (JSON Lines) or 1. */
  row: number;
  line: number;
  /** The record's own text, for positions in messages. */
  text: string;
  /** Line number of the record's first line, to offset positions within it. */
  firstLine: number;
}

export function readVllmRecord(r: VllmRecord, shown: string, defaults: MeasureDefaults = {}): MeasuredPoint {
  const d = r.data;
  let y: YamlSource | undefined;
  const where = (path: Path): string => {
    // A JSON Lines record is one line of the file: that line is the position.
    if (r.firstLine !== 1) return `${shown}:${r.firstLine}`;
    y ??= new YamlSource(shown, r.text);
    return y.where(path, y.offsetOf(path), []); // the message names the field itself
  };
  const number = (key: string, positive: boolean): number | undefined => {
    const v = d[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (positive && v === 0)) {
      throw new UserError(`row ${r.row}, ${key}: expected a number ${positive ? '> 0' : '>= 0'}, got ${JSON.stringify(v)}`, where([key]));
    }
    return v;
  };
  const latency = (metric: string): { value: number; stat: Statistic } | undefined => {
    for (const [prefix, stat] of STATS) {
      const v = number(`${prefix}_${metric}_ms`, true);
      if (v !== undefined) return { value: v, stat };
    }
    return undefined;
  };

  const completed = number('completed', false);
  const lengthOf = (key: string): number | undefined => {
    const total = number(key, false);
    if (total === undefined || completed === undefined) return undefined;
    if (completed === 0) throw new UserError(`row ${r.row}, completed: the run completed no requests`, where(['completed']));
    return Math.max(1, Math.round(total / completed));
  };
  const need = (what: 'isl' | 'osl' | 'concurrency', value: number | undefined, lacking: string): number => {
    const x = value ?? defaults[what];
    if (x === undefined) throw new UserError(`row ${r.row}, ${what}: ${lacking}; give --${what}`, where([]));
    return x;
  };
  const isl = need('isl', lengthOf('total_input_tokens'), 'the result has no total_input_tokens and completed');
  const osl = need('osl', lengthOf('total_output_tokens'), 'the result has no total_output_tokens and completed');
  const mc = d['max_concurrency'];
  if (mc !== undefined && mc !== null && !(typeof mc === 'number' && Number.isInteger(mc) && mc >= 1)) {
    throw new UserError(`row ${r.row}, max_concurrency: expected a whole number >= 1 or null, got ${JSON.stringify(mc)}`, where(['max_concurrency']));
  }
  const concurrency = need('concurrency', typeof mc === 'number' ? mc : undefined, 'max_concurrency is null (an uncapped run)');

  const p: MeasuredPoint = { file: shown, format: 'vllm-bench', row: r.row, line: r.line, isl, osl, concurrency, statistic: {} };
  const ttft = latency('ttft');
  const itl = latency('tpot') ?? latency('itl');
  const e2e = latency('e2el');
  if (ttft) {
    p.ttftMs = ttft.value;
    p.statistic.ttft = ttft.stat;
  }
  if (itl) {
    p.itlMs = itl.value;
    p.statistic.itl = itl.stat;
  }
  if (e2e) {
    p.latencyMs = e2e.value;
    p.statistic.latency = e2e.stat;
  }
  const tput = number('output_throughput', false);
  if (tput !== undefined && tput > 0) p.throughput = tput;
  if (!ttft && !itl && !e2e && p.throughput === undefined) {
    throw new UserError(`row ${r.row}: no mean_ttft_ms, mean_tpot_ms, mean_itl_ms, mean_e2el_ms or output_throughput in the result`, where([]));
  }
  return p;
}
