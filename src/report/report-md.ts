/**
 * report.md: a run told for a reader who opens the report directory, not the code: the experiment (name, seed, file),
 * the deployment it ran (model, GPU, node, transport, connector profile, worker groups with their TP; a value the sweep
 * varies is listed with every value it took), the points table and the notable events as the command prints them, and
 * the charts, each linked by its file name (the PNGs sit in the same directory). The text is a pure function of its
 * input: the same run writes the same bytes.
 */
import { basename, dirname, resolve } from 'node:path';
import type { Deployment, Experiment, RateSpec, WorkerGroup, Workload } from '../spec/experiment.js';
import type { OutputFile } from '../spec/output.js';

export const REPORT_MD_FILE = 'report.md';

export interface ReportMdInput {
  /** The experiment's name and seed (summary.json's). */
  experiment: string;
  seed: number;
  /** The experiment file as the command names it (relative to the working directory where it is under it). */
  file?: string;
  /** What produced it, when not a plain run: `merged from 2 shards`. */
  origin?: string;
  /** Each point's experiment, in point order (merge has none: the deployment section then says so). */
  experiments: readonly Experiment[];
  /** The points table as the command prints it (text lines, columns aligned). */
  table: readonly string[];
  /** The autoscaled points' table (GPU-hours, SLO attainment, peak workers), when the run autoscaled. */
  autoscale?: readonly string[];
  /** The prefix-cache table (hits by tier), when some point's prompts carry block hashes. */
  prefixCache?: readonly string[];
  /** TTFT by turn of the conversation, with workload.sessions. */
  turns?: readonly string[];
  /** The notable-events lines as the command prints them. */
  events: readonly string[];
  /** The run's other output files; each PNG in the report's directory (or under it) is embedded. */
  files: readonly OutputFile[];
  /** The report's directory (absolute). */
  dir: string;
}

/** Distinct values in first-seen order. */
function distinct(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** A Markdown table cell: pipes escaped, line breaks as spaces. */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function group(role: string, g: WorkerGroup): string {
  const where = g.gpu || g.node ? ` on ${[g.gpu, g.node].filter(Boolean).join(' / ')}` : '';
  // DP ranks and EP only where the file gives them: a plain TP group reads as it always did.
  const dp = g.dp !== undefined && g.dp > 1 ? ` x DP${g.dp}` : '';
  const ep = g.ep !== undefined && g.ep > 1 ? ` (EP${g.ep}${g.allToAll ? `, ${g.allToAll}` : ''})` : '';
  return `${role} ${g.workers} x TP${g.tp}${dp}${ep}${where}`;
}

/** The worker groups a deployment runs: prefill and decode, or the aggregated workers. */
export function groupsText(d: Deployment): string {
  return d.mode === 'aggregated' ? group('aggregated', d.aggregated) : `${group('prefill', d.prefill)}, ${group('decode', d.decode)}`;
}

function connectorText(d: Deployment): string {
  return d.vllm !== undefined ? `${d.connector} (vLLM ${d.vllm})` : d.connector;
}

const DEPLOYMENT_ROWS: readonly [string, (d: Deployment) => string][] = [
  ['mode', (d) => d.mode],
  ['model', (d) => d.model],
  ['GPU', (d) => d.gpu],
  ['node', (d) => d.node],
  ['transport', (d) => (d.mode === 'aggregated' ? '- (aggregated: no KV transfer)' : d.transport)],
  ['connector profile', connectorText],
  ['placement', (d) => d.placement],
  ['failure policy', (d) => d.failurePolicy],
  ['workers', groupsText],
];

function deploymentLines(experiments: readonly Experiment[]): string[] {
  if (experiments.length === 0) return ['The points were joined from shard summaries; their deployment is in the experiment file.'];
  const lines = ['| | |', '|---|---|'];
  for (const [name, of] of DEPLOYMENT_ROWS) {
    const values = distinct(experiments.map((e) => of(e.deployment)));
    const text = values.length === 1 ? values[0]! : `${values.join('; ')} (varies by point)`;
    lines.push(`| ${name} | ${cell(text)} |`);
  }
  for (const [name, of] of WORKLOAD_ROWS) {
    const values = distinct(experiments.map((e) => of(e.workload)));
    const text = values.length === 1 ? values[0]! : `${values.join('; ')} (varies by point)`;
    lines.push(`| ${name} | ${cell(text)} |`);
  }
  return lines;
}

const WORKLOAD_ROWS: readonly [string, (w: Workload) => string][] = [
  ['workload', (w) => (w.kind === 'trace' ? `trace (${w.trace?.format ?? '?'})` : w.kind === 'poisson' ? `poisson at ${rateText(w.rate)}` : `closed loop, concurrency ${w.concurrency}`)],
  ['requests', (w) => `${w.requests} measured after ${w.warmup} warm-up`],
  ['input tokens (mean)', (w) => (w.kind === 'trace' ? '- (from the trace)' : String(w.isl.mean))],
  ['output tokens (mean)', (w) => (w.kind === 'trace' ? '- (from the trace)' : String(w.osl.mean))],
];

/** A chart's title from its Vega-Lite spec written beside it (<name>.vl.json), else its name. */
function chartTitle(png: OutputFile, files: readonly OutputFile[]): string {
  const name = basename(png.path, '.png');
  const spec = files.find((f) => resolve(f.path) === resolve(dirname(png.path), `${name}.vl.json`));
  if (spec) {
    try {
      const t = (JSON.parse(typeof spec.data === 'string' ? spec.data : new TextDecoder().decode(spec.data)) as { title?: unknown }).title;
      const text = typeof t === 'string' ? t : t && typeof t === 'object' && 'text' in t ? (t as { text: unknown }).text : undefined;
      const s = Array.isArray(text) ? text.join(' ') : typeof text === 'string' ? text : undefined;
      if (s) return s;
    } catch {
      // Not JSON: the name will do.
    }
  }
  return name;
}

/** The charts' links, relative to the report's directory, in the order the files were given. */
export function chartLinks(files: readonly OutputFile[], dir: string): { path: string; title: string }[] {
  const root = resolve(dir);
  return files
    .filter((f) => f.path.endsWith('.png') && resolve(f.path).startsWith(`${root}/`))
    .map((f) => ({ path: resolve(f.path).slice(root.length + 1), title: chartTitle(f, files) }));
}

/** A section of tables under a heading and a paragraph saying what they count; nothing when the table is empty. */
function tableSection(heading: string, intro: string, table: readonly string[] | undefined): string[] {
  return table?.length ? [`## ${heading}`, '', intro, '', '```text', ...table, '```', ''] : [];
}

const AUTOSCALE_INTRO =
  'GPU-hours count the GPUs of every worker provisioning, serving or draining, to the horizon or the end of the ' +
  'workload; SLO attainment is the share of the measured requests that ended which completed within both SLO targets ' +
  '(met / ended). points.csv and `expect` name them as summary.json does: autoscale.gpuHours, autoscale.sloAttainment, ' +
  'autoscale.peakWorkers.<role>, ...';

const PREFIX_CACHE_INTRO =
  'Full prompt blocks of every admitted request, warm-up included, and the shares found in a GPU prefix cache, loaded ' +
  'from a tier below it (host memory, disk, object store) or computed. summary.json has the counts behind them ' +
  "(prefixCache) and each tier's own counts.";

const TURNS_INTRO =
  "TTFT p50 / p95 ms by turn of the conversation, over the measured turns that completed; summary.json's `turns` has " +
  'every turn, its counts and its mean prompt tokens.';

/** report.md's exact text. */
export function reportMd(input: ReportMdInput): string {
  const from = input.file !== undefined ? ` from \`${input.file}\`` : '';
  const lines = [
    `# ${input.experiment}`,
    '',
    `Experiment \`${input.experiment}\`, seed ${input.seed}${from ? `,${from}` : ''}${input.origin ? `, ${input.origin}` : ''}.`,
    'The metrics cover the measured requests (warm-up excluded); a "-" is a metric with no samples (no request completed, ' +
      'no KV transfer completed), not a zero. Event counts cover every request, warm-up included.',
    '',
    '## Deployment',
    '',
    ...deploymentLines(input.experiments),
    '',
    '## Points',
    '',
    '```text',
    ...input.table,
    '```',
    '',
    ...tableSection('Autoscaling', AUTOSCALE_INTRO, input.autoscale),
    ...tableSection('Prefix cache', PREFIX_CACHE_INTRO, input.prefixCache),
    ...tableSection('Turns', TURNS_INTRO, input.turns),
    '## Notable events',
    '',
    'Event counts include warm-up requests; the table above counts measured requests only.',
    '',
    ...(input.events.length ? input.events.map((l) => (l.startsWith('  ') ? `  - ${l.trim()}` : `- ${l}`)) : ['None.']),
  ];
  const charts = chartLinks(input.files, input.dir);
  if (charts.length > 0) {
    lines.push('', '## Charts');
    for (const c of charts) lines.push('', `![${cell(c.title).replace(/[[\]]/g, '')}](${c.path.split('/').map(encodeURIComponent).join('/')})`);
  }
  return `${lines.join('\n')}\n`;
}

/** A workload.rate as text: `4 req/s`, `steps 2 -> 6 req/s`, `diurnal, mean 3 req/s, peak/trough 4`. */
function rateText(r: RateSpec): string {
  if (typeof r === 'number') return `${r} req/s`;
  if ('steps' in r) return `steps ${r.steps.map((s) => s.rate).join(' -> ')} req/s`;
  return `diurnal, mean ${r.diurnal.meanRate} req/s, peak/trough ${r.diurnal.peakToTrough}, period ${r.diurnal.periodS} s`;
}
