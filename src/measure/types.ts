/**
 * Measured benchmark results, normalised: one MeasuredPoint per benchmark run (a genai-perf export, a vLLM `bench
 * serve` result) or per row of a plain CSV, whatever file it came from. Audit and calibrate compare these with the
 * model; they never see a file format.
 */

/** The metrics a measurement may carry, as audit names them. */
export type MeasuredMetric = 'ttft' | 'itl' | 'latency' | 'throughput';
export const MEASURED_METRICS: readonly MeasuredMetric[] = ['ttft', 'itl', 'latency', 'throughput'];
/** Each metric as the audit and calibrate tables head it, with its unit. */
export const METRIC_LABEL: Readonly<Record<MeasuredMetric, string>> = { ttft: 'TTFT ms', itl: 'ITL ms', latency: 'latency ms', throughput: 'tok/s' };

/** A measured or modeled value as the audit and calibrate tables print it: 12345, 123.4, 12.34. */
export function measureText(x: number): string {
  return x >= 1000 ? x.toFixed(0) : x >= 100 ? x.toFixed(1) : x.toFixed(2);
}

/** Which statistic of a latency distribution a value is: the mean unless the file had only a percentile. */
export type Statistic = 'mean' | 'p50' | 'p90' | 'p95' | 'p99';

export type MeasureFormat = 'plain-csv' | 'genai-perf-json' | 'genai-perf-csv' | 'vllm-bench';
export const MEASURE_FORMATS: readonly MeasureFormat[] = ['plain-csv', 'genai-perf-json', 'genai-perf-csv', 'vllm-bench'];

export interface MeasuredPoint {
  /** The file as the user named it (relative to the working directory when below it). */
  file: string;
  format: MeasureFormat;
  /** 1-based: the data row of a plain CSV, the record of a JSON Lines file; 1 for a one-run export. */
  row: number;
  /** 1-based line of the file the point starts on. */
  line: number;
  /** Prompt tokens (the measured mean where the file has it, rounded to whole tokens). */
  isl: number;
  /** Output tokens per request (likewise). */
  osl: number;
  /** Requests in flight (closed loop, genai-perf --concurrency, vLLM --max-concurrency). */
  concurrency: number;
  /** Time to first token, ms. */
  ttftMs?: number;
  /** Inter-token latency, ms, as genai-perf defines it: (last token - first token) / (output tokens - 1) per request. */
  itlMs?: number;
  /** End-to-end request latency, ms. */
  latencyMs?: number;
  /** Output tokens per second over the run, all requests together. */
  throughput?: number;
  /** The statistic of each latency present (mean unless the file gave only a percentile). */
  statistic: Partial<Record<'ttft' | 'itl' | 'latency', Statistic>>;
  /** One request's KV transfer: its size in bytes or in tokens, and how long it took (plain CSV only). */
  kvBytes?: number;
  kvTokens?: number;
  kvTransferMs?: number;
}

/** What the command line supplies where a file lacks it (--isl, --osl, --concurrency). */
export interface MeasureDefaults {
  isl?: number;
  osl?: number;
  concurrency?: number;
}

/** The value of a metric of a point, if measured. */
export function measuredValue(p: MeasuredPoint, m: MeasuredMetric): number | undefined {
  switch (m) {
    case 'ttft':
      return p.ttftMs;
    case 'itl':
      return p.itlMs;
    case 'latency':
      return p.latencyMs;
    case 'throughput':
      return p.throughput;
  }
}

/** The statistic a metric of a point was measured in: throughput is always the run's mean rate. */
export function statisticOf(p: MeasuredPoint, m: MeasuredMetric): Statistic {
  return m === 'throughput' ? 'mean' : (p.statistic[m] ?? 'mean');
}
