/**
 * report.md: the plan in prose and tables. Everything in it comes from plan.json, so the same plan gives the same
 * bytes. The prose explains the ranking from what the search saw: which SLO term each configuration hit first when
 * pushed past its maximum rate, how busy each worker group was at that rate, and how goodput moves with the P:D
 * ratio and with TP.
 */
import { shapeText } from './enumerate.js';
import type { ParetoOptions, ParetoRow } from '../report/charts/pareto.js';
import { fixedColumn } from '../report/table.js';
import { ms } from './slo.js';
import type { PlanJson, RankedEntry } from './types.js';

const cap = (t: string): string => t.charAt(0).toUpperCase() + t.slice(1);
/** x to n significant digits: 0.0123, 45.7, 1230. */
/** x as a whole percentage of `of`: 73%. */
const percentOf = (x: number, of: number): string => `${Math.round((x / of) * 100)}%`;

/** `; decode on h200-sxm (h200-roce)` for roles on hardware of their own; '' without. */
export function rolesText(i: Pick<PlanJson['inputs'], 'roles'>): string {
  const r = Object.entries(i.roles ?? {});
  return r.length ? `; ${r.map(([role, x]) => `${role} on ${x.gpu} (${x.node})`).join(', ')}` : '';
}

export const sig = (x: number, n = 3): string => (x === 0 ? '0' : Number(x.toPrecision(n)).toString());

/** A configuration in a few characters: `8 x TP1`, `6P TP1 + 2D TP1`, `2P DP8/EP8 + 1D DP8/EP8`. */
export function shortName(e: Pick<RankedEntry, 'deployment'>): string {
  const d = e.deployment;
  if (d.mode === 'aggregated') return `${d.aggregated!.workers} x ${shapeText(d.aggregated!)}`;
  return `${d.prefill!.workers}P ${shapeText(d.prefill!)} + ${d.decode!.workers}D ${shapeText(d.decode!)}`;
}

export function paretoRows(plan: PlanJson): ParetoRow[] {
  const rec = plan.ranked[0]?.meetsSlo ? plan.ranked[0].id : undefined;
  const bestOf = new Set([plan.verdict.aggregated?.id, plan.verdict.disaggregated?.id]);
  return plan.ranked
    .filter((e) => e.meetsSlo)
    .map((e) => ({
      id: e.id,
      short: shortName(e),
      label: e.label,
      mode: e.deployment.mode,
      ttftP95Ms: e.ttftP95Ms,
      goodputPerGpu: e.goodputPerGpu,
      maxRate: e.maxRate,
      itlP95Ms: e.itlP95Ms,
      pareto: e.pareto,
      recommended: e.id === rec,
      labelled: e.pareto || bestOf.has(e.id),
    }));
}

/** What hitting each bound means, by mode: the mechanism behind the number. */
const WHY: Record<string, Record<'aggregated' | 'disaggregated', string>> = {
  ttft: {
    aggregated: 'prompts queue behind other prompts on the shared engines',
    disaggregated: 'the first token waits in the prefill queue and then for its KV transfer, and one of the two runs out of capacity',
  },
  itl: {
    aggregated: 'chunked prefill puts new prompts into the same steps as the running decodes, so every token waits for prompt chunks',
    disaggregated: 'decode batches grow with the rate until each decode step is too slow',
  },
  e2e: {
    aggregated: 'queueing and slower decode steps add up over the whole request',
    disaggregated: 'prefill queueing, the KV transfer and decode steps add up over the whole request',
  },
  completion: {
    aggregated: 'requests fail or do not finish',
    disaggregated: 'requests fail or do not finish (e.g. KV transfers that fail or expire)',
  },
};

function boundMetric(b: string): string {
  return b === 'completion' ? 'completion' : b.split('_')[0]!;
}

/** `ttft_p95` as a reader says it: TTFT p95. */
function boundName(b: string): string {
  if (b === 'completion') return 'completion (failed or unfinished requests)';
  const [m, st] = b.split('_');
  return `${m === 'e2e' ? 'end-to-end' : m!.toUpperCase()} ${st}`;
}

/** The bound each entry hit first (the first broken term, SLO order), counted. */
function limitCounts(entries: readonly RankedEntry[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const e of entries) {
    const b = e.limit.bound[0];
    if (b !== undefined) counts.set(b, (counts.get(b) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

function limitText(e: RankedEntry): string {
  if (e.searchLimit === 'ceiling') return `none up to ${sig(e.maxRate, 4)} req/s (the search's ceiling)`;
  if (e.limit.rate === null) return '-';
  return `${e.limit.violations.join('; ')} at ${sig(e.limit.rate, 4)} req/s`;
}

function estimateText(e: RankedEntry): string {
  return e.deployment.mode === 'aggregated' ? sig(e.estimate) : `${sig(e.estimate)} (${CEILING_NAMES[limitingCeiling(e)]})`;
}

function kvText(e: RankedEntry): string {
  return e.kvTransferP50Ms === null ? '-' : `${ms(e.kvTransferP50Ms)} / ${e.kvTransferAloneMs === null ? '-' : ms(e.kvTransferAloneMs)}`;
}

/** The KV transfer at the maximum rate against the same transfer alone: how much the transfers crowd each other. */
function kvSentence(e: RankedEntry): string {
  if (e.kvTransferP50Ms === null) return '';
  const alone = e.kvTransferAloneMs;
  const base = `a KV transfer takes ${ms(e.kvTransferP50Ms)} ms (median)`;
  if (alone === null || !(alone > 0)) return base;
  const x = e.kvTransferP50Ms / alone;
  return x >= 1.5
    ? `${base}, ${x.toFixed(1)} times the ${ms(alone)} ms it takes alone: concurrent transfers share the workers' NIC rails`
    : `${base}, about the ${ms(alone)} ms it takes alone`;
}

const CEILING_NAMES = { prefill: 'prefill', decode: 'decode', kvTransfer: 'KV transfer' } as const;

/** The lowest physics ceiling of a disaggregated configuration: the part that runs out first. */
export function limitingCeiling(e: RankedEntry): keyof typeof CEILING_NAMES {
  const k = e.ceilings;
  const parts = (['prefill', 'kvTransfer', 'decode'] as const).filter((p) => k[p] !== undefined);
  return parts.reduce((a, b) => (k[b]! < k[a]! ? b : a));
}

const gbps = (bps: number): string => `${sig(bps / 1e9)} GB/s`;

function modeParagraph(plan: PlanJson, mode: 'aggregated' | 'disaggregated'): string | undefined {
  const es = plan.ranked.filter((e) => e.deployment.mode === mode && e.meetsSlo);
  const best = es[0];
  if (!best) return undefined;
  const counts = limitCounts(es);
  const parts = counts.map(([b, n]) => `${boundName(b)} in ${n} of ${es.length}`);
  const main = counts[0];
  const why = main ? WHY[boundMetric(main[0])]?.[mode] : undefined;
  const broke = parts.length ? `Pushed past their maximum rate, they break ${parts.join(', ')}${why ? `: ${why}.` : '.'}` : '';
  const w = plan.inputs.workload;
  if (mode === 'aggregated') {
    const shape = shapeText(best.deployment.aggregated!);
    return [
      `**Aggregated.** Each worker prefills and decodes its own requests, so no KV moves between workers. ${broke}`,
      `The best, ${shortName(best)}, meets the SLO up to ${sig(best.maxRate, 4)} req/s, ${percentOf(best.maxRate, best.estimate)} of the physics estimate of its capacity ` +
        `(${sig(best.estimate)} req/s: ${ms(best.ceilings.basis.prefillS * 1000)} ms to prefill one ${Math.round(w.islMean)}-token prompt at ${shape}, plus its share of the decode steps, on the same GPUs).`,
      tpSentence(es, mode) ?? '',
    ]
      .filter((x) => x !== '')
      .join(' ');
  }
  const b = best.ceilings.basis;
  const lower = limitingCeiling(best);
  const lowerValue = best.ceilings[lower]!;
  return [
    `**Disaggregated.** ${broke}`,
    `Their maximum rates follow the smaller of two physics ceilings: prefill (prefill workers / the time to prefill one prompt) and the KV transfer ` +
      `(${sig((b.kvBytes ?? 0) / 1e9)} GB of KV a request over the narrower side's NICs: a ${shapeText(best.deployment.prefill!)} prefill worker moves ${gbps(b.prefillWorkerBps ?? 0)}, ` +
      `a ${shapeText(best.deployment.decode!)} decode worker ${gbps(b.decodeWorkerBps ?? 0)}). ` +
      `The best, ${shortName(best)}, has a prefill ceiling of ${sig(best.ceilings.prefill)} req/s (${best.deployment.prefill!.workers} x 1 / ${ms(b.prefillS * 1000)} ms) ` +
      `and a KV transfer ceiling of ${sig(best.ceilings.kvTransfer ?? 0)} req/s; it meets the SLO up to ${sig(best.maxRate, 4)} req/s, ${percentOf(best.maxRate, lowerValue)} of the lower (${CEILING_NAMES[lower]}).`,
    ratioSentence(es) ?? '',
    tpSentence(es, mode) ?? '',
  ]
    .filter((x) => x !== '')
    .join(' ');
}

/** How goodput moves with the P:D ratio, for the TP pair with the most ratios tried, and which ceiling binds each side. */
function ratioSentence(es: readonly RankedEntry[]): string | undefined {
  const groups = new Map<string, RankedEntry[]>();
  for (const e of es) {
    const k = `${shapeText(e.deployment.prefill!)} prefill and ${shapeText(e.deployment.decode!)} decode`;
    groups.set(k, [...(groups.get(k) ?? []), e]);
  }
  const [key, list] = [...groups.entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? [];
  if (!key || !list || list.length < 3) return undefined;
  const byP = [...list].sort((a, b) => a.deployment.prefill!.workers - b.deployment.prefill!.workers);
  const best = list[0]!; // es, and so list, is in rank order
  const ratio = (e: RankedEntry) => `${e.deployment.prefill!.workers}:${e.deployment.decode!.workers}`;
  const side = (xs: RankedEntry[], what: string): string | undefined => {
    if (!xs.length) return undefined;
    const names = [...new Set(xs.map((e) => CEILING_NAMES[limitingCeiling(e)]))];
    return `with ${what} prefill workers (${xs.map(ratio).join(', ')}) the lower ceiling is ${names.join(' or ')}`;
  };
  const sides = [
    side(byP.filter((e) => e.deployment.prefill!.workers < best.deployment.prefill!.workers), 'fewer'),
    side(byP.filter((e) => e.deployment.prefill!.workers > best.deployment.prefill!.workers), 'more'),
  ].filter((x): x is string => x !== undefined);
  return (
    `With ${key}, goodput per GPU by P:D is ${byP.map((e) => `${ratio(e)} ${sig(e.goodputPerGpu)}`).join(', ')}; ` +
    `it peaks at ${ratio(best)}` +
    (sides.length ? `; ${sides.join('; ')}.` : '.')
  );
}

/**
 * Goodput per GPU by TP within a mode (the best configuration at each TP); with a MoE model's DP/EP shapes among them,
 * by worker shape, without the TP-width explanation.
 */
function tpSentence(es: readonly RankedEntry[], mode: 'aggregated' | 'disaggregated'): string | undefined {
  const groups = (e: RankedEntry) => (mode === 'aggregated' ? [e.deployment.aggregated!] : [e.deployment.prefill!, e.deployment.decode!]);
  const shaped = es.some((e) => groups(e).some((g) => (g.dp ?? 1) > 1 || (g.ep ?? 1) > 1));
  const tpOf = (e: RankedEntry) =>
    mode === 'aggregated' ? shapeText(e.deployment.aggregated!) : `${shapeText(e.deployment.prefill!)}${shaped ? ' + ' : '/'}${shapeText(e.deployment.decode!)}`;
  const best = new Map<string, RankedEntry>();
  for (const e of es) if (!best.has(tpOf(e))) best.set(tpOf(e), e); // es is in rank order: the first is the best
  if (best.size < 2) return undefined;
  const list = [...best.entries()];
  const text = list.map(([tp, e]) => `${tp} ${sig(e.goodputPerGpu)}`).join(', ');
  if (mode !== 'aggregated') return `The best goodput per GPU for each prefill/decode ${shaped ? 'shape' : 'TP'} pair: ${text}.`;
  if (shaped) return `By worker shape, goodput per GPU is ${text}.`;
  const top = list[0]![0];
  const smallest = [...best.keys()].sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)))[0];
  const why =
    top === smallest
      ? 'a wider TP shortens each step but leaves fewer replicas for the same GPUs, and here the replicas win'
      : 'a wider TP shortens each step enough to make up for having fewer replicas';
  return `By TP, goodput per GPU is ${text}: ${why}.`;
}

function probeText(i: PlanJson['inputs']): string {
  return `${sig(i.probe.windowS)} s of arrivals (at least ${i.probe.minRequests}, at most ${i.probe.maxRequests} requests)`;
}

/** The best of each mode side by side: how close each came to its physics capacity, and what held it back. */
function modesSentence(plan: PlanJson): string | undefined {
  const best = (mode: 'aggregated' | 'disaggregated') => plan.ranked.find((e) => e.deployment.mode === mode && e.meetsSlo);
  const [a, d] = [best('aggregated'), best('disaggregated')];
  if (!a || !d) return undefined;
  const held = (e: RankedEntry) => (e.limit.bound[0] ? `its ${boundName(e.limit.bound[0])} bound` : "the search's ceiling");
  const lower = limitingCeiling(d);
  return (
    `Between the modes: ${shortName(a)} stops at ${percentOf(a.maxRate, a.estimate)} of its estimated capacity, held back by ${held(a)}, with ITL p95 ${ms(a.itlP95Ms)} ms; ` +
    `${shortName(d)} reaches ${percentOf(d.maxRate, d.ceilings[lower]!)} of its lower ceiling (${CEILING_NAMES[lower]}), held back by ${held(d)}, with ITL p95 ${ms(d.itlP95Ms)} ms.`
  );
}

function recommendation(plan: PlanJson, recommendedFile: string): string[] {
  const top = plan.ranked[0];
  if (!top || !top.meetsSlo) return ['No configuration meets the SLO at any rate the search tried; nothing is recommended. Loosen the SLO, add GPUs, or shorten the requests.'];
  const lines = [
    `**${top.label}** (${top.gpusUsed} GPUs${top.deployment.placement ? `, ${top.deployment.placement}` : ''}): up to **${sig(top.maxRate, 4)} req/s** within the SLO, ` +
      `**${sig(top.goodputPerGpu)} req/s per GPU** (${sig(top.outputTokensPerSPerGpu)} output tokens/s per GPU)` +
      (top.costPerHourUsd !== null ? `, $${top.costPerHourUsd.toFixed(2)} an hour, ${costPerM(top.usdPerMillionOutputTokens)} per million output tokens at that rate.` : '.'),
    '',
    `At that rate TTFT p95 is ${ms(top.ttftP95Ms)} ms (median ${ms(top.ttftP50Ms)} ms) and ITL p95 ${ms(top.itlP95Ms)} ms` +
      (top.kvTransferP50Ms !== null ? `; ${kvSentence(top)}` : '') +
      '. ' +
      (top.searchLimit === 'ceiling'
        ? "It met the SLO at every rate tried, up to the search's ceiling."
        : top.limit.rate !== null
          ? `At ${sig(top.limit.rate, 4)} req/s it breaks the SLO: ${top.limit.violations.join('; ')}.`
          : ''),
    '',
    `Ready to run: \`nixlsim run ${recommendedFile}\` (the probe at ${sig(top.maxRate, 4)} req/s, same seed: it reproduces these numbers). ` +
      'To deploy it: `launch.sh` beside it has the Dynamo worker commands, their vLLM flags and the transport\'s environment.',
  ];
  return lines;
}

function why(plan: PlanJson): string[] {
  const ok = plan.ranked.filter((e) => e.meetsSlo);
  const out: string[] = [];
  const [a, b] = ok;
  if (a && b) {
    const gap = (1 - b.goodputPerGpu / a.goodputPerGpu) * 100;
    out.push(
      `${cap(a.label)} ranks first with ${sig(a.goodputPerGpu)} req/s per GPU; ${b.label} follows with ${sig(b.goodputPerGpu)} ` +
        `(${gap.toFixed(1)}% less)${gap * 100 < plan.inputs.precision * 1e4 ? `, within the search's ${Math.round(plan.inputs.precision * 100)}% precision, so the two are as good as tied` : ''}.`,
    );
  } else if (a) {
    out.push(`${cap(a.label)} is the only configuration that meets the SLO.`);
  }
  const between = modesSentence(plan);
  if (between) out.push('', between);
  for (const mode of ['aggregated', 'disaggregated'] as const) {
    const p = modeParagraph(plan, mode);
    if (p) out.push('', p);
  }
  const never = plan.ranked.filter((e) => !e.meetsSlo);
  if (never.length) {
    out.push(
      '',
      `${never.length} configuration(s) met the SLO at no rate down to the search's floor (${never.map((e) => shortName(e)).join(', ')}); ` +
        `at their lowest rate: ${never.map((e) => `${shortName(e)}: ${e.limit.violations.join('; ') || 'see plan.json'}`).join('. ')}.`,
    );
  }
  if (plan.pruned.length) {
    const rules = new Map<string, number>();
    for (const p of plan.pruned) rules.set(p.rule, (rules.get(p.rule) ?? 0) + 1);
    out.push('', `${plan.pruned.length} configuration(s) were not simulated: ${[...rules.entries()].map(([r, n]) => `${n} for ${r}`).join(', ')} (listed below).`);
  }
  return out;
}

/**
 * The ranking's two rate columns as printed, in `plan`'s table and in report.md: each entry's max rate (0 when it
 * never meets the SLO) to 4 significant digits of the largest, and its goodput per GPU to 3, one number of decimals
 * a column (see fixedColumn).
 */
export function rateColumns(entries: readonly RankedEntry[]): { rates: string[]; perGpu: string[] } {
  return {
    rates: fixedColumn(entries.map((e) => (e.meetsSlo ? e.maxRate : 0)), 4),
    perGpu: fixedColumn(entries.map((e) => e.goodputPerGpu), 3),
  };
}

/** USD per million output tokens as a report prints it; '-' when there is none. */
export const costPerM = (x: number | null): string => (x === null ? '-' : `$${x < 10 ? x.toFixed(3) : x.toFixed(2)}`);

function rankedTable(plan: PlanJson): string[] {
  const priced = plan.inputs.gpuCostUsdPerHour !== null;
  const head =
    '| # | configuration | GPUs | placement | max rate (req/s) | goodput (req/s per GPU) | TTFT p95 (ms) | ITL p95 (ms) | ' +
    `${priced ? 'USD/h | USD per M output tokens | ' : ''}KV transfer p50 / alone (ms) | physics estimate (req/s) | Pareto | what breaks above the max rate |`;
  const { rates, perGpu } = rateColumns(plan.ranked);
  const rows = plan.ranked.map(
    (e, k) =>
      `| ${e.rank} | ${e.label} | ${e.gpusUsed} | ${e.deployment.placement ?? '-'} | ${rates[k]} | ${perGpu[k]} | ` +
      `${ms(e.ttftP95Ms)} | ${ms(e.itlP95Ms)} | ${priced ? `${e.costPerHourUsd!.toFixed(2)} | ${costPerM(e.usdPerMillionOutputTokens)} | ` : ''}` +
      `${kvText(e)} | ${estimateText(e)} | ${e.pareto ? 'yes' : ''} | ${e.meetsSlo ? limitText(e) : `never met; at ${sig(Math.min(...e.probes.map((p) => p.rate)), 4)} req/s: ${e.limit.violations.join('; ')}`} |`,
  );
  return [head, `|${'---|'.repeat(priced ? 14 : 12)}`, ...rows];
}

/** Pruned configurations with the same reason, together (plan.json lists each). */
function prunedGroups(plan: PlanJson): { rule: string; reason: string; names: string[] }[] {
  const groups = new Map<string, { rule: string; reason: string; names: string[] }>();
  for (const p of plan.pruned) {
    const g = groups.get(p.reason) ?? { rule: p.rule, reason: p.reason, names: [] };
    g.names.push(shortName(p));
    groups.set(p.reason, g);
  }
  return [...groups.values()];
}

export interface ReportFiles {
  chartPng: string;
  recommended: string;
}

export function reportMarkdown(plan: PlanJson, files: ReportFiles): string {
  const i = plan.inputs;
  const w = i.workload;
  const probes = plan.ranked.reduce((n, e) => n + e.probes.length, 0);
  const shape =
    w.kind === 'trace'
      ? `trace replay (${sig(w.traceRate ?? 0, 4)} req/s as recorded, sped up to each probe's rate), mean ISL ${Math.round(w.islMean)}, mean OSL ${Math.round(w.oslMean)}`
      : `Poisson arrivals, ISL ${Math.round(w.islMean)}, OSL ${Math.round(w.oslMean)}`;
  const front = plan.ranked.filter((e) => e.pareto).sort((a, b) => a.ttftP95Ms - b.ttftP95Ms);
  const lines = [
    `# Capacity plan: ${i.model} on ${i.gpus} x ${i.gpu} (${i.node})${rolesText(i)}, ${i.transport}`,
    '',
    `SLO: ${i.slo.join(', ')}. Workload: \`${w.source}\` as ${shape}; each probe measures ${probeText(i)} after ${w.warmupPerProbe} warm-up, seed ${i.seed}. ` +
      `Connector profile \`${i.connector}\`; placement ${i.placement === 'auto' ? 'chosen per configuration (see Method)' : i.placement}.`,
    ...(w.notes.length ? ['', `Notes: ${w.notes.join('; ')}.`] : []),
    '',
    '## Verdict',
    '',
    plan.verdict.text,
    '',
    '## Recommendation',
    '',
    ...recommendation(plan, files.recommended),
    '',
    '## Why this ranking',
    '',
    ...why(plan),
    '',
    '## Ranked configurations',
    '',
    'Goodput per GPU = the maximum rate meeting every SLO term (requests per second) / GPUs used. TTFT, ITL and KV transfer times are at that rate; "alone" is one mean-length transfer with nothing else on the wire. The physics estimate is the capacity worked out from step times and NIC bandwidths (for disaggregated, the lowest ceiling, named), not simulated.',
    '',
    ...rankedTable(plan),
    '',
    '## Pareto front',
    '',
    `![goodput per GPU vs TTFT p95](${files.chartPng})`,
    '',
    front.length
      ? `On the front (nothing else has both more goodput per GPU and a lower TTFT p95), by TTFT p95: ${front.map((e) => `${shortName(e)} (${sig(e.goodputPerGpu)} req/s per GPU at ${ms(e.ttftP95Ms)} ms)`).join(', ')}.`
      : 'No configuration meets the SLO, so there is no front.',
    '',
    `## Pruned (${plan.pruned.length})`,
    '',
    ...(plan.pruned.length
      ? ['| configurations | rule | reason |', '|---|---|---|', ...prunedGroups(plan).map((g) => `| ${g.names.join(', ')} | ${g.rule} | ${g.reason.replace(/\|/g, '\\|')} |`)]
      : ['None: every configuration the budget allows can run.']),
    '',
    '## Method',
    '',
    `- **Enumerated**: aggregated, floor(${i.gpus} / TP) replicas of each TP size; disaggregated, every prefill TP, decode TP and P:D whose GPUs fit the budget with no room left for another worker of either kind. ` +
      `TP sizes: ${plan.tpSizes.sizes.join(', ')}${plan.tpSizes.excluded.length ? ` (left out: ${plan.tpSizes.excluded.map((x) => `TP${x.tp}, ${x.reason}`).join('; ')})` : ''}.`,
    `- **Pruned**: a worker whose KV pool (vLLM's gpu_memory_utilization of HBM, less weights and the activation reserve) cannot hold the longest request ` +
      `(ISL ${w.longest.isl} + OSL ${w.longest.osl}${w.kind === 'trace' ? ', the longest in the records replayed' : ', mean + 3 standard deviations'}); a TP pair the connector profile rejects or crashes on; ` +
      'a transport that cannot connect prefill and decode where they are placed.',
    '- **Placement**: prefill and decode workers are separate pods, so never intra-pod (no NVLink between them). A configuration that fits on one node goes same-node when the transport works there; otherwise, or when the transport fails within a node (EFA), cross-node (pod anti-affinity). `--placement` pins it instead.',
    `- **Search**: each configuration starts at half a physics estimate of its capacity, doubles (or halves) until one rate meets the SLO and a higher one does not, then bisects until the bracket is within ${Math.round(i.precision * 100)}% of its lower end. ` +
      `The maximum rate is the highest rate that met the SLO; the true maximum lies below the lowest that failed. A probe meets the SLO when every term holds over its measured requests and all of them completed. ` +
      `Every probe uses seed ${i.seed}, so the same requests arrive at every rate, only closer together. ${probes} probes in all.`,
    `- **Probe length**: a short run hides an overload (the backlog has no time to build), so each probe sends ${sig(i.probe.windowS)} s of arrivals ` +
      `(the loosest TTFT or end-to-end bound divided by the precision: an overload of ${Math.round(i.precision * 100)}% then adds a whole bound of queueing by the end), ` +
      `at least ${i.probe.minRequests} and at most ${i.probe.maxRequests} measured requests. Configurations within ${Math.round(i.precision * 100)}% of each other are not meaningfully ranked.`,
    '',
  ];
  return `${lines.join('\n')}`;
}

/** The options a plan's own chart is drawn with: its context line, every SLO term, and what limits the recommended. */
export function planParetoOptions(plan: PlanJson, rows: readonly ParetoRow[] = []): ParetoOptions {
  const terms = plan.inputs.slo.map((text) => {
    const m = /^(ttft|itl|e2e)_(p50|p90|p95|p99|mean)_ms<=(.+)$/.exec(text.trim());
    return m ? { metric: m[1]!, stat: m[2]!, maxMs: Number(m[3]), text } : { metric: '', stat: '', maxMs: Number.NaN, text };
  });
  const ttft = terms.find((t) => t.metric === 'ttft' && t.stat === 'p95');
  const itl = terms.find((t) => t.metric === 'itl' && t.stat === 'p95');
  const rec = plan.ranked[0]?.meetsSlo ? plan.ranked[0] : undefined;
  const i = plan.inputs;
  return {
    context: `${i.model} on ${i.gpus} x ${i.gpu} (${i.node}), ${i.transport}; SLO ${i.slo.join(',')}.`,
    ...(ttft ? { ttftSloMs: ttft.maxMs } : {}),
    ...(itl ? { itlSloMs: itl.maxMs } : {}),
    otherSlo: terms.filter((t) => t !== ttft && t !== itl).map((t) => t.text),
    ...(rec ? { recommendedLimit: { bound: rec.limit.bound, rate: rec.limit.rate } } : {}),
    modeLimits: (['aggregated', 'disaggregated'] as const).flatMap((mode) => {
      const best = plan.verdict[mode];
      const e = best ? plan.ranked.find((r) => r.id === best.id) : undefined;
      const row = e ? rows.find((r) => r.id === e.id) : undefined;
      return e ? [{ mode, short: row?.short ?? e.label, bound: e.limit.bound, rate: e.limit.rate }] : [];
    }),
  };
}
