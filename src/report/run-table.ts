/**
 * What a run reads as: the points table `nixlsim run` prints (and report.md shows), with the bands' table under it and
 * the notable events with notes on what they mean; and a whole run's points.csv and report.md. Used by runExperiment
 * (src/run/run.ts) and by merge, which rebuilds a run from its shards.
 */
import { join } from 'node:path';
import { pointLabel, shortPath, valueText } from '../experiment/jobs.js';
import type { ShardInfo } from '../experiment/shard.js';
import { shownPath } from '../errors.js';
import type { Band, PointBands } from '../spec/bands.js';
import type { AutoscaleResult, Experiment, Point, PointResult, PrefixCacheResult, TurnResult } from '../spec/experiment.js';
import type { OutputFile } from '../spec/output.js';
import type { Summary } from '../spec/summary.js';
import { pointsCsv, POINTS_CSV_FILE } from './points-csv.js';
import { reportMd, REPORT_MD_FILE } from './report-md.js';
import { num, textTable } from './table.js';

/** Columns of numbers align right, the rest left. */
function table(header: string[], rows: string[][], left: readonly boolean[]): string[] {
  return textTable(header, rows, (i) => left[i] === true);
}

function notes(r: PointResult, e: Experiment | undefined): string[] {
  const out: string[] = [];
  const ev = (k: string) => r.events[k] ?? 0;
  if (ev('kv_blocks_expired') > 0) {
    // Say what actually followed: a fallback, failures, or nothing (the requests had already failed elsewhere).
    const then =
      ev('fell_back') > 0
        ? `${fellBackText(r)} fell back to prefilling on the decode worker`
        : e?.deployment.failurePolicy === 'fail' && r.requests.failed > 0
          ? 'those requests failed (failurePolicy: fail)'
          : 'no decode worker read them: their requests had already failed';
    out.push(`prefill released KV blocks no decode worker had read within the timeout (one line per prefill rank); ${then}`);
  } else if (ev('fell_back') > 0) {
    // Fallbacks for another reason (a failed KV transfer): the same split, so the counts add up here too.
    out.push(`${fellBackText(r)} fell back to prefilling on the decode worker after their KV transfer failed`);
  }
  if (ev('stale_kv_read') > 0) {
    out.push('decode read KV blocks prefill had already released: output built on stale memory, a silent wrong answer in a real deployment');
  }
  if (ev('engine_dead') > 0) out.push("an engine died (vLLM's EngineDeadError); the requests it held failed");
  if (r.requests.failed > 0) out.push(`${r.requests.failed} of ${r.requests.total} measured requests failed; the event counts above (warm-up included) say what failed them`);
  return out;
}

/**
 * How many requests fell back, as the table counts them (the measured requests that ended, summary.json's
 * requests.fellBack), with the rest of the fell_back event count (every request: warm-up, and any still running at
 * the horizon) said apart, so that the numbers add up to the event count printed above the note.
 */
function fellBackText(r: PointResult): string {
  const measured = r.requests.fellBack;
  const all = r.events['fell_back'] ?? 0;
  const text = `${measured} measured request(s)`;
  if (all <= measured) return text;
  const rest = all - measured;
  return r.requests.inFlight === 0
    ? `${text} and ${rest} warm-up request(s)`
    : `${text} and ${rest} warm-up or still-running request(s)`;
}

/** What the table needs of a point: its id and params, and its experiment for the notes when there is one (merge has none). */
export type TablePoint = Pick<Point, 'id' | 'params'> & { experiment?: Experiment };

export function formatRun(summary: Summary, points: readonly TablePoint[], summaryFile: string, shard?: ShardInfo): string {
  const n = summary.points.length;
  const lines = [
    `experiment '${summary.experiment}' (seed ${summary.seed}): ` +
      (shard ? `shard ${shard.index}/${shard.count}, ${n} of ${shard.points} points` : `${n} point${n === 1 ? '' : 's'}`) +
      `, summary in ${shownPath(summaryFile)}`,
    '',
    ...pointsTable(summary),
    ...titled('autoscaling: GPU-hours of every worker provisioning, serving or draining; SLO attainment = requests within both SLO targets / requests ended', autoscaleTable(summary)),
    ...titled(PREFIX_CACHE_TITLE, prefixCacheTable(summary)),
    ...titled(TURNS_TITLE, turnsTable(summary)),
    '',
    'notable events: (event counts include warm-up requests; the table counts measured requests only)',
    ...notableEvents(summary, points),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The points table as `run` prints it (and report.md shows it), the bands' table under it with --uncertainty. The
 * request counts are the measured requests' (warm-up excluded), as in summary.json; "-" is a metric with no samples.
 */
export function pointsTable(summary: Summary): string[] {
  const keys = summary.points[0] ? Object.keys(summary.points[0].params) : [];
  const header = [
    'point',
    ...keys.map(shortPath),
    'completed',
    'failed',
    'fell back',
    'TTFT mean ms',
    'TTFT p50 ms',
    'TTFT p95 ms',
    'ITL mean ms',
    'e2e p50 ms',
    'out tok/s',
    'KV p50 ms',
    'KV GB/s',
  ];
  const rows = summary.points.map((r) => [
    r.id,
    ...keys.map((k) => valueText(r.params[k])),
    String(r.requests.completed),
    String(r.requests.failed),
    String(r.requests.fellBack),
    num(r.ttftMs.mean),
    num(r.ttftMs.p50),
    num(r.ttftMs.p95),
    num(r.itlMs.mean),
    num(r.e2eMs.p50),
    num(r.throughput.outputTokensPerS),
    num(r.kvTransfer.ms.p50),
    num(r.kvTransfer.effectiveGBps),
  ]);
  const numeric = (k: string) => summary.points.every((r) => typeof r.params[k] === 'number');
  const left = [true, ...keys.map((k) => !numeric(k)), ...header.slice(1 + keys.length).map(() => false)];
  return [...table(header, rows, left), ...bandLines(summary, keys, left.slice(0, 1 + keys.length))];
}

/** The notable-events lines: each point's event counts (every request, warm-up included), then notes on what they mean. */
export function notableEvents(summary: Summary, points: readonly TablePoint[]): string[] {
  const lines: string[] = [];
  const byId = new Map(points.map((p) => [p.id, p.experiment]));
  for (const r of summary.points) {
    const counts = Object.entries(r.events).filter(([, c]) => c > 0);
    lines.push(`${pointLabel(r.id, r.params)}: ${counts.length ? counts.map(([k, c]) => `${k} ${c}`).join(', ') : 'none'}`);
    for (const note of notes(r, byId.get(r.id))) lines.push(`  ${note}`);
  }
  return lines;
}

/**
 * points.csv and report.md for a whole run (or a merge of one): `files` are its other outputs, whose PNGs report.md
 * embeds; `experiments` each point's experiment, when known (not to merge).
 */
export function runReportFiles(
  summary: Summary,
  points: readonly TablePoint[],
  info: { dir: string; file?: string; origin?: string; flag?: string },
  files: readonly OutputFile[],
): OutputFile[] {
  const flag = info.flag !== undefined ? { flag: info.flag } : {};
  const experiments = points.flatMap((p) => (p.experiment ? [p.experiment] : []));
  const md = reportMd({
    experiment: summary.experiment,
    seed: summary.seed,
    ...(info.file !== undefined ? { file: info.file } : {}),
    ...(info.origin !== undefined ? { origin: info.origin } : {}),
    experiments: experiments.length === points.length ? experiments : [],
    table: pointsTable(summary),
    autoscale: autoscaleTable(summary),
    prefixCache: prefixCacheTable(summary),
    turns: turnsTable(summary),
    events: notableEvents(summary, points),
    files,
    dir: info.dir,
  });
  return [
    { path: join(info.dir, POINTS_CSV_FILE), data: pointsCsv(summary), ...flag },
    { path: join(info.dir, REPORT_MD_FILE), data: md, ...flag },
  ];
}

/** A table under a line that says what it counts, after a blank line; nothing when the table is empty. */
const titled = (title: string, rows: readonly string[]): string[] => (rows.length > 0 ? ['', title, ...rows] : []);

const PREFIX_CACHE_TITLE =
  'prefix cache: full prompt blocks of every admitted request (warm-up included), the shares found in a GPU cache and each tier below it, and computed';

const pct = (part: number, whole: number): string => (whole > 0 ? `${((part / whole) * 100).toFixed(1)}%` : '-');

/**
 * The prefix-cache hits of the points that have them (summary.json's prefixCache), a row per point: prompt blocks,
 * the overall hit rate, the share from each tier (a tier's column only when some point has it), the computed share,
 * and where requests prefilled under conditional disaggregation. None when no point's prompts carry block hashes.
 */
export function prefixCacheTable(summary: Summary): string[] {
  const cached = summary.points.filter((r): r is PointResult & { prefixCache: PrefixCacheResult } => r.prefixCache !== undefined);
  if (cached.length === 0) return [];
  const keys = Object.keys(cached[0]!.params);
  // A tier's column when some point has that tier (a host tier of 0 bytes stores nothing).
  const host = cached.some((r) => r.prefixCache.host.storedBlocks > 0 || r.prefixCache.hostHitBlocks > 0);
  const disk = cached.some((r) => r.prefixCache.diskHitBlocks !== undefined);
  const object = cached.some((r) => r.prefixCache.objectHitBlocks !== undefined);
  const cond = cached.some((r) => r.conditionalDisagg !== undefined);
  const header = ['point', ...keys.map(shortPath), 'prompt blocks', 'hit rate', 'GPU', ...(host ? ['host'] : []), ...(disk ? ['disk'] : []), ...(object ? ['object'] : []), 'computed', ...(cond ? ['local / remote prefills'] : [])];
  const rows = cached.map(({ id, params, prefixCache: c, conditionalDisagg: d }) => [
    id,
    ...keys.map((k) => valueText(params[k])),
    String(c.promptBlocks),
    pct(c.promptBlocks - c.missedBlocks, c.promptBlocks),
    pct(c.gpuHitBlocks, c.promptBlocks),
    ...(host ? [pct(c.hostHitBlocks, c.promptBlocks)] : []),
    ...(disk ? [c.diskHitBlocks === undefined ? '-' : pct(c.diskHitBlocks, c.promptBlocks)] : []),
    ...(object ? [c.objectHitBlocks === undefined ? '-' : pct(c.objectHitBlocks, c.promptBlocks)] : []),
    pct(c.missedBlocks, c.promptBlocks),
    ...(cond ? [d === undefined ? '-' : `${d.localPrefills} / ${d.remotePrefills}`] : []),
  ]);
  const numeric = (k: string) => cached.every((r) => typeof r.params[k] === 'number');
  return table(header, rows, [true, ...keys.map((k) => !numeric(k))]);
}

/** Turns shown in the table; summary.json's `turns` has every one. */
const TABLE_TURNS = 8;

const TURNS_TITLE = `TTFT p50 / p95 ms by turn of the conversation, over the measured turns that completed (the first ${TABLE_TURNS}; summary.json's turns has every turn and its counts)`;

/** With workload.sessions: a row per point, TTFT p50 / p95 of each turn number; none without sessions. */
export function turnsTable(summary: Summary): string[] {
  const withTurns = summary.points.filter((r): r is PointResult & { turns: TurnResult[] } => r.turns !== undefined);
  if (withTurns.length === 0) return [];
  const keys = Object.keys(withTurns[0]!.params);
  const last = Math.min(TABLE_TURNS, Math.max(0, ...withTurns.flatMap((r) => r.turns.map((t) => t.turn))));
  const numbers = Array.from({ length: last }, (_, i) => i + 1);
  const header = ['point', ...keys.map(shortPath), ...numbers.map((n) => `turn ${n}`)];
  const rows = withTurns.map(({ id, params, turns }) => [
    id,
    ...keys.map((k) => valueText(params[k])),
    ...numbers.map((n) => {
      const t = turns.find((x) => x.turn === n)?.ttftMs;
      return t ? `${num(t.p50)} / ${num(t.p95)}` : '-';
    }),
  ]);
  const numeric = (k: string) => withTurns.every((r) => typeof r.params[k] === 'number');
  return table(header, rows, [true, ...keys.map((k) => !numeric(k))]);
}

/** Roles in the order the deployment names them; a role the run names otherwise comes after, sorted. */
const ROLES = ['prefill', 'decode', 'aggregated'];

/**
 * The autoscaled points' headline numbers (summary.json's autoscale), a row per point that has them: GPU-hours, SLO
 * attainment (the share, then met / ended), scaling decisions and the most workers of each role. None without autoscale.
 */
export function autoscaleTable(summary: Summary): string[] {
  const scaled = summary.points.filter((r): r is PointResult & { autoscale: AutoscaleResult } => r.autoscale !== undefined);
  if (scaled.length === 0) return [];
  const keys = Object.keys(scaled[0]!.params);
  const named = [...new Set(scaled.flatMap((r) => Object.keys(r.autoscale.peakWorkers)))];
  const roles = [...ROLES.filter((k) => named.includes(k)), ...named.filter((k) => !ROLES.includes(k)).sort()];
  // The target, unless the sweep varies it and so already names it.
  const target = !keys.includes('autoscale.target');
  const header = ['point', ...keys.map(shortPath), ...(target ? ['target'] : []), 'GPU-hours', 'SLO attainment', 'met / ended', 'SLO TTFT/ITL ms', 'scale-ups', 'scale-downs', ...roles.map((k) => `peak ${k}`)];
  const rows = scaled.map(({ id, params, autoscale: a }) => [
    id,
    ...keys.map((k) => valueText(params[k])),
    ...(target ? [a.target] : []),
    num(a.gpuHours),
    a.sloAttainment === null ? '-' : `${(a.sloAttainment * 100).toFixed(1)}%`,
    `${a.metSlo} / ${a.ended}`,
    `${a.slo.ttftMs}/${a.slo.itlMs}`,
    String(a.scaleUps),
    String(a.scaleDowns),
    ...roles.map((k) => (a.peakWorkers[k] === undefined ? '-' : String(a.peakWorkers[k]))),
  ]);
  const numeric = (k: string) => scaled.every((r) => typeof r.params[k] === 'number');
  return table(header, rows, [true, ...keys.map((k) => !numeric(k)), target]);
}

const bandText = (b: Band | null): string => (b ? `${num(b.p5)} / ${num(b.p50)} / ${num(b.p95)}` : '-');

/** The bands of `run --uncertainty`, a table under the main one: p5 / p50 / p95 of the numbers a planner reads. */
function bandLines(summary: Summary, keys: readonly string[], left: readonly boolean[]): string[] {
  const banded = summary.points.filter((r): r is PointResult & { bands: PointBands } => r.bands !== undefined);
  if (banded.length === 0) return [];
  const n = banded[0]!.bands.samples;
  const header = ['point', ...keys.map(shortPath), 'TTFT p50 ms', 'TTFT p95 ms', 'ITL mean ms', 'out tok/s', 'KV mean ms', 'fell back'];
  const rows = banded.map((r) => [
    r.id,
    ...keys.map((k) => valueText(r.params[k])),
    bandText(r.bands.ttftMs.p50),
    bandText(r.bands.ttftMs.p95),
    bandText(r.bands.itlMs.mean),
    bandText(r.bands.outputTokensPerS),
    bandText(r.bands.kvTransferMs.mean),
    `${r.bands.fellBackSamples}/${r.bands.samples}`,
  ]);
  return [
    '',
    `uncertainty: p5 / p50 / p95 over ${n} Monte Carlo samples a point (catalog ranges, triangular around the nominal; the table above is the nominal run)`,
    ...table(header, rows, [...left, ...header.slice(left.length).map(() => false)]),
  ];
}
