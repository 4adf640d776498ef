import { UserError } from '../errors.js';
import { valueAt, YamlSource, type Path } from '../yaml/positions.js';
import { fileLines, splitCsvLine } from './csv.js';
import type { MeasureDefaults, MeasuredPoint, Statistic } from './types.js';

/**
 * genai-perf's profile exports, one benchmark run per file:
 * - `profile_export_genai_perf.json`: one object per metric (`time_to_first_token: {unit: "ms", avg, p50, ..., p99}`,
 *   `output_token_throughput: {unit: "tokens/sec", avg}`, `input_sequence_length` / `output_sequence_length`, called
 *   `num_input_token` / `num_output_token` in older releases) plus `input_config`, the command line it ran with
 *   (`concurrency`, `synthetic_input_tokens_mean`, `output_tokens_mean`; nested under `perf_analyzer.stimulus` and
 *   `input` in newer releases).
 * - `profile_export_genai_perf.csv`: a table `Metric,avg,min,max,p99,...` of the same metrics as rows labelled
 *   `Time To First Token (ms)`, then a blank line and a `Metric,Value` table of the throughputs. Numbers carry
 *   thousands separators ("1,234.56"). The CSV has no input config, so concurrency comes from --concurrency.
 *
 * The statistic taken is the average (genai-perf's `avg`), or where a file lacks it the first of p50, p90, p95, p99.
 * Lengths are the measured mean input/output sequence lengths where the export has them (what the server saw), else
 * the configured means, else --isl/--osl.
 */

const STAT_KEYS: readonly [string, Statistic][] = [
  ['avg', 'mean'],
  ['p50', 'p50'],
  ['p90', 'p90'],
  ['p95', 'p95'],
  ['p99', 'p99'],
];

/** Milliseconds per unit of genai-perf's latency units (older releases wrote ns). */
const MS_PER: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, sec: 1000 };
const PER_SECOND = ['tokens/sec', 'tokens/s', 'tok/s', 'tokens_per_sec'];

const LATENCIES = { time_to_first_token: 'ttft', inter_token_latency: 'itl', request_latency: 'latency' } as const;
const ISL_KEYS = ['input_sequence_length', 'num_input_token', 'num_input_tokens'];
const OSL_KEYS = ['output_sequence_length', 'num_output_token', 'num_output_tokens'];

/** One metric as read from either format: its unit and its statistics, each with where it was written. */
interface RawMetric {
  unit: string | undefined;
  stats: Map<string, RawStat>;
  where: () => string;
}

interface RawStat {
  text: unknown;
  /** How messages name it: `time_to_first_token.avg` (JSON), `column avg of 'Time To First Token (ms)'` (CSV). */
  name: string;
  where: () => string;
}

interface Collected {
  metrics: Map<string, RawMetric>;
  config: { concurrency?: number; isl?: number; osl?: number };
  /** Where a problem with the file as a whole is reported. */
  where: string;
  line: number;
}

function num(s: RawStat): number {
  // genai-perf writes thousands separators in its CSV ("1,234.56") and some releases wrote numbers as strings.
  const n = typeof s.text === 'number' ? s.text : typeof s.text === 'string' ? Number(s.text.replace(/,/g, '')) : NaN;
  if (!Number.isFinite(n) || n < 0) throw new UserError(`row 1, ${s.name}: expected a number >= 0, got ${JSON.stringify(s.text)}`, s.where());
  return n;
}

/** The statistic to use and its value, or undefined when the metric has none of them. */
function pick(m: RawMetric): { value: number; stat: Statistic; s: RawStat } | undefined {
  for (const [key, stat] of STAT_KEYS) {
    const s = m.stats.get(key);
    if (s !== undefined && s.text !== null && s.text !== '') return { value: num(s), stat, s };
  }
  return undefined;
}

function toPoint(c: Collected, shown: string, format: MeasuredPoint['format'], defaults: MeasureDefaults): MeasuredPoint {
  const lengthOf = (keys: string[]): number | undefined => {
    for (const k of keys) {
      const m = c.metrics.get(k);
      const v = m && pick(m);
      if (v && v.value > 0) return Math.max(1, Math.round(v.value));
    }
    return undefined;
  };
  const need = (what: 'isl' | 'osl' | 'concurrency', value: number | undefined, lacking: string): number => {
    const x = value ?? defaults[what];
    if (x === undefined) throw new UserError(`row 1, ${what}: ${lacking}; give --${what}`, c.where);
    return x;
  };
  const isl = need('isl', lengthOf(ISL_KEYS) ?? c.config.isl, 'the export has no input_sequence_length and no synthetic_input_tokens_mean');
  const osl = need('osl', lengthOf(OSL_KEYS) ?? c.config.osl, 'the export has no output_sequence_length and no output_tokens_mean');
  const concurrency = need(
    'concurrency',
    c.config.concurrency,
    format === 'genai-perf-csv' ? 'the CSV export does not record it' : 'input_config has no concurrency (a --request-rate run?)',
  );
  const p: MeasuredPoint = { file: shown, format, row: 1, line: c.line, isl, osl, concurrency, statistic: {} };
  for (const [key, metric] of Object.entries(LATENCIES)) {
    const m = c.metrics.get(key);
    if (!m) continue;
    const v = pick(m);
    if (!v) continue;
    const unit = (m.unit ?? 'ms').toLowerCase();
    const scale = MS_PER[unit];
    if (scale === undefined) throw new UserError(`row 1, ${key} unit: expected one of ${Object.keys(MS_PER).join(', ')}, got '${m.unit}'`, m.where());
    const ms = v.value * scale;
    if (ms <= 0) throw new UserError(`row 1, ${v.s.name}: expected a time > 0, got ${v.value}`, v.s.where());
    if (metric === 'ttft') p.ttftMs = ms;
    else if (metric === 'itl') p.itlMs = ms;
    else p.latencyMs = ms;
    p.statistic[metric] = v.stat;
  }
  const tput = c.metrics.get('output_token_throughput');
  if (tput) {
    const v = pick(tput);
    const unit = (tput.unit ?? 'tokens/sec').toLowerCase();
    if (!PER_SECOND.includes(unit)) throw new UserError(`row 1, output_token_throughput unit: expected tokens/sec, got '${tput.unit}'`, tput.where());
    if (v && v.value > 0) p.throughput = v.value;
  }
  if (p.ttftMs === undefined && p.itlMs === undefined && p.latencyMs === undefined && p.throughput === undefined) {
    throw new UserError('row 1: no time_to_first_token, inter_token_latency, request_latency or output_token_throughput in the export', c.where);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------------------------
// JSON

function positiveConfig(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v) : undefined;
}

function configAt(config: unknown, paths: Path[]): number | undefined {
  for (const path of paths) {
    const v = positiveConfig(valueAt(config, path));
    if (v !== undefined) return v;
  }
  return undefined;
}

export function readGenaiPerfJson(data: Record<string, unknown>, text: string, shown: string, defaults: MeasureDefaults = {}): MeasuredPoint {
  let y: YamlSource | undefined;
  const where = (path: Path): string => {
    // Positions only when needed: parsing with positions costs more than JSON.parse.
    y ??= new YamlSource(shown, text);
    return y.where(path, y.offsetOf(path), []); // the message names the field itself

  };
  const metrics = new Map<string, RawMetric>();
  for (const [key, value] of Object.entries(data)) {
    if (key === 'input_config' || value === null || typeof value !== 'object' || Array.isArray(value)) continue;
    const o = value as Record<string, unknown>;
    const stats = new Map<string, RawStat>();
    for (const [k] of STAT_KEYS) if (k in o) stats.set(k, { text: o[k], name: `${key}.${k}`, where: () => where([key, k]) });
    metrics.set(key, { unit: typeof o['unit'] === 'string' ? o['unit'] : undefined, stats, where: () => where([key]) });
  }
  const cfg = data['input_config'];
  const config = {
    concurrency: configAt(cfg, [['concurrency'], ['perf_analyzer', 'stimulus', 'concurrency']]),
    isl: configAt(cfg, [['synthetic_input_tokens_mean'], ['input', 'synthetic_tokens', 'mean']]),
    osl: configAt(cfg, [['output_tokens_mean'], ['input', 'output_tokens', 'mean'], ['output_tokens', 'mean']]),
  };
  const c: Collected = { metrics, config: {}, where: `${shown}:1`, line: 1 };
  if (config.concurrency !== undefined) c.config.concurrency = config.concurrency;
  if (config.isl !== undefined) c.config.isl = config.isl;
  if (config.osl !== undefined) c.config.osl = config.osl;
  return toPoint(c, shown, 'genai-perf-json', defaults);
}

// ---------------------------------------------------------------------------------------------------------------------
// CSV

/** `Time To First Token (ms)` -> { key: 'time_to_first_token', unit: 'ms' }. */
function metricLabel(label: string): { key: string; unit: string | undefined } {
  const m = /^(.*?)\s*(?:\(([^)]*)\))?\s*$/.exec(label)!;
  return { key: m[1]!.trim().toLowerCase().replace(/[\s-]+/g, '_'), unit: m[2]?.trim() };
}

export function readGenaiPerfCsv(text: string, shown: string, defaults: MeasureDefaults = {}): MeasuredPoint {
  const metrics = new Map<string, RawMetric>();
  let header: string[] | undefined;
  let firstLine = 0;
  for (const l of fileLines(text)) {
    const where = `${shown}:${l.line}`;
    if (l.text.trim() === '') {
      header = undefined; // a blank line ends a table; the next line is the next table's header
      continue;
    }
    const cells = splitCsvLine(l.text);
    if ('error' in cells) throw new UserError(`row 1: ${cells.error}`, where);
    if (header === undefined) {
      if (cells[0]?.toLowerCase() !== 'metric') {
        throw new UserError(`expected a table header starting with 'Metric' (genai-perf's CSV export), got '${cells[0] ?? ''}'`, where);
      }
      header = cells.map((c) => c.toLowerCase());
      if (firstLine === 0) firstLine = l.line;
      continue;
    }
    const label = cells[0] ?? '';
    const { key, unit } = metricLabel(label);
    const stats = new Map<string, RawStat>();
    header.forEach((h, i) => {
      if (i === 0 || cells[i] === undefined) return;
      const name = h === 'value' ? 'avg' : h; // the Metric,Value table: one number, the run's average rate
      stats.set(name, { text: cells[i], name: `column ${h} of '${label}'`, where: () => where });
    });
    // Later telemetry or per-GPU tables may repeat a name; the request table comes first and wins.
    if (!metrics.has(key)) metrics.set(key, { unit, stats, where: () => where });
  }
  if (firstLine === 0) throw new UserError("empty file; expected genai-perf's CSV export (a 'Metric,avg,...' table)", shown);
  return toPoint({ metrics, config: {}, where: `${shown}:${firstLine}`, line: firstLine }, shown, 'genai-perf-csv', defaults);
}
