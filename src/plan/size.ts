/**
 * `plan --rate R`: the fewest GPUs, and the cheapest configuration, that meet the SLO at a stated load.
 *
 * The max-rate planner (planner.ts) asks how much a fixed budget can serve; this asks how little serves a given
 * rate. Every configuration of up to --gpus GPUs (each TP size that holds the weights; aggregated, any replica
 * count; disaggregated, any P and D), pruned by the same rules, is probed once, at the rate, cheapest first: in
 * groups of equal cost (GPUs used; with --gpu-cost, dollars per hour, the same order while every GPU has one price),
 * one batch of probes per group, until each mode has a configuration that meets the SLO or none is left. The answer
 * is the cheapest group's configuration that meets it with the most room: the lowest worst-term use of the SLO
 * (value / bound), ties to enumeration order. Both modes' cheapest answers are kept, so the verdict says what
 * disaggregation saves or costs at this load.
 *
 * A configuration whose physics capacity estimate (estimate.ts) is below rate / CAPACITY_SLACK is not probed: in the
 * max-rate plans of docs/planning.md no configuration's simulated maximum exceeded its estimate by more than 3%, so
 * a 25% shortfall cannot be made up. It is listed with the estimate.
 */
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import type { Point, PointResult } from '../spec/experiment.js';
import { candidateGpus, candidateId, candidateLabel, shapeGpus, type Candidate, type RoleSizes, type Shape } from './enumerate.js';
import { usdPerMillionTokens } from './cost.js';
import { capacityFrom } from './estimate.js';
import { assess, configCost, defaultOutDir, dpEpOf, inputsOf, launchFor, poolSimulator, roleSizes, shapesOf, probeBatch, setup, type Assessed, type PlanOptions, type PlanResult, type SimulateBatch } from './planner.js';
import { PROBES_DIR, probePoint, ProbeStore, type ProbeSizing } from './probe.js';
import { checkSlo, termValue, type SloTerm } from './slo.js';
import type { DeploymentSection, PlanInputs, PrunedEntry } from './types.js';
import type { TpChoice } from './enumerate.js';
import type { PlanWorkload } from './workload.js';

/** A configuration whose capacity estimate is below rate / this is not probed (see the module comment). */
export const CAPACITY_SLACK = 1.25;

/**
 * Every configuration of at most `gpus` GPUs: aggregated, 1 to floor(gpus / TP) replicas of each TP size;
 * disaggregated, each (prefill TP, decode TP) pair with P, D >= 1 and P x prefill TP + D x decode TP <= gpus. Order:
 * aggregated by TP and replicas, then disaggregated by prefill TP, decode TP, P and D.
 */
export function enumerateUpTo(gpus: number, sizes: readonly (number | Shape)[], roles: RoleSizes = {}): Candidate[] {
  const out: Candidate[] = [];
  const shape = (x: number | Shape): Shape => (typeof x === 'number' ? { tp: x } : x);
  for (const g of sizes.map(shape)) for (let w = 1; w * shapeGpus(g) <= gpus; w++) out.push({ mode: 'aggregated', aggregated: { workers: w, ...g } });
  for (const pg of (roles.prefill ?? sizes).map(shape)) {
    for (const dg of (roles.decode ?? sizes).map(shape)) {
      const [pw, dw] = [shapeGpus(pg), shapeGpus(dg)];
      for (let p = 1; p * pw + dw <= gpus; p++) {
        for (let d = 1; p * pw + d * dw <= gpus; d++) out.push({ mode: 'disaggregated', prefill: { workers: p, ...pg }, decode: { workers: d, ...dg } });
      }
    }
  }
  return out;
}

/** How much of the SLO a result uses: the largest value / bound over the terms (> 1: broken); null when a term has no samples. */
export function sloUse(r: PointResult, slo: readonly SloTerm[]): number | null {
  const v = slo.map((t) => termValue(r, t));
  return v.some((x) => x === null) ? null : Math.max(...slo.map((t, i) => v[i]! / t.maxMs));
}

export interface CheckedEntry {
  id: string;
  label: string;
  deployment: DeploymentSection;
  gpusUsed: number;
  costPerHourUsd: number | null;
  /** Met every SLO term at the rate, with every measured request completed. */
  meetsSlo: boolean;
  /** Largest value / bound over the SLO terms at the rate (< 1: room left). */
  /** null when a term had no samples at the rate (no request completed). */
  sloUse: number | null;
  ttftP50Ms: number;
  ttftP95Ms: number;
  itlP95Ms: number;
  outputTokensPerS: number;
  /** USD per million output tokens at the rate; null without a price or when the SLO is not met. */
  usdPerMillionOutputTokens: number | null;
  /** The SLO terms broken (and failed or unfinished requests), as checkSlo says them. */
  violations: string[];
}

export interface SkippedEntry {
  id: string;
  label: string;
  deployment: DeploymentSection;
  gpusUsed: number;
  /** The physics capacity estimate, req/s, below rate / CAPACITY_SLACK. */
  estimate: number;
}

export interface ModeAnswer {
  id: string;
  label: string;
  gpusUsed: number;
  costPerHourUsd: number | null;
}

/**
 * `plan --rate --json`: the contract is `question` ('load'), `rate`, `recommended` (the configuration's deployment
 * section with id, gpusUsed, costPerHourUsd and sloUse, or null), `verdict` ({aggregated, disaggregated: the cheapest of
 * each that met the SLO, or null; winner; text}), `checked` (every configuration probed, cheapest first), `skipped`
 * (capacity estimate too low to probe) and `pruned` (cannot run, with the reason).
 */
export interface LoadPlanJson {
  schemaVersion: 1;
  question: 'load';
  inputs: PlanInputs & { rate: number; rateSource: 'flag' | 'workload' };
  recommended: (DeploymentSection & { id: string; gpusUsed: number; costPerHourUsd: number | null; sloUse: number | null }) | null;
  verdict: { aggregated: ModeAnswer | null; disaggregated: ModeAnswer | null; winner: 'aggregated' | 'disaggregated' | 'tie' | 'none'; text: string };
  checked: CheckedEntry[];
  skipped: SkippedEntry[];
  pruned: PrunedEntry[];
  tpSizes: TpChoice;
}

/** What planForLoad returns: as plan's result, with the load question's plan.json. */
export type LoadPlanResult = Omit<PlanResult, 'plan'> & { plan: LoadPlanJson };

const round = (x: number, digits = 6): number => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : 0);
const nullable = (x: number | null, digits: number): number | null => (x === null ? null : round(x, digits));

function checkedEntry(a: Assessed, r: PointResult, slo: readonly SloTerm[], cost: number | null): CheckedEntry {
  const gpus = candidateGpus(a.candidate);
  const c = checkSlo(r, slo);
  const out = r.throughput.outputTokensPerS;
  // A price per token only where the configuration serves the load within the SLO.
  const perM = c.pass ? usdPerMillionTokens(cost, out) : null;
  return {
    id: candidateId(a.candidate),
    label: candidateLabel(a.candidate),
    deployment: a.deployment,
    gpusUsed: gpus,
    costPerHourUsd: cost === null ? null : round(cost, 4),
    meetsSlo: c.pass,
    sloUse: nullable(sloUse(r, slo), 4),
    // plan.json's latencies are numbers; a configuration with no samples at the rate fails its SLO and shows 0 here.
    ttftP50Ms: round(r.ttftMs.p50 ?? 0, 3),
    ttftP95Ms: round(r.ttftMs.p95 ?? 0, 3),
    itlP95Ms: round(r.itlMs.p95 ?? 0, 3),
    outputTokensPerS: round(out, 3),
    usdPerMillionOutputTokens: perM === null ? null : round(perM, 4),
    violations: c.violations,
  };
}

const money = (x: number): string => `$${x.toFixed(2)}`;

function answerText(a: ModeAnswer): string {
  return `${a.label} (${a.gpusUsed} GPUs${a.costPerHourUsd !== null ? `, ${money(a.costPerHourUsd)}/h` : ''})`;
}

/** Aggregated against disaggregated at this load: which needs fewer GPUs (or dollars), and by how much. */
export function loadVerdict(agg: ModeAnswer | null, dis: ModeAnswer | null, rate: number, maxGpus: number): LoadPlanJson['verdict'] {
  const at = `${rate} req/s`;
  if (!agg && !dis) return { aggregated: null, disaggregated: null, winner: 'none', text: `Nothing of up to ${maxGpus} GPUs meets the SLO at ${at}.` };
  if (!agg || !dis) {
    const [w, l] = agg ? ['aggregated', 'disaggregated'] : ['disaggregated', 'aggregated'];
    return {
      aggregated: agg,
      disaggregated: dis,
      winner: w as 'aggregated' | 'disaggregated',
      text: `Only ${w} serving meets the SLO at ${at} within ${maxGpus} GPUs: ${answerText((agg ?? dis)!)}; no ${l} configuration does.`,
    };
  }
  const key = (a: ModeAnswer): number => a.costPerHourUsd ?? a.gpusUsed;
  const what = agg.costPerHourUsd !== null ? 'cost' : 'GPUs';
  if (key(agg) === key(dis)) {
    return { aggregated: agg, disaggregated: dis, winner: 'tie', text: `A tie at ${at}: ${answerText(dis)} and ${answerText(agg)} need the same ${what}.` };
  }
  const [w, l] = key(dis) < key(agg) ? [dis, agg] : [agg, dis];
  const saved = what === 'GPUs' ? `${l.gpusUsed - w.gpusUsed} fewer GPUs` : `${money(key(l) - key(w))}/h less`;
  return {
    aggregated: agg,
    disaggregated: dis,
    winner: key(dis) < key(agg) ? 'disaggregated' : 'aggregated',
    text: `${w === dis ? 'Disaggregated' : 'Aggregated'} serving meets the SLO at ${at} with ${saved}: ${answerText(w)} against ${answerText(l)}.`,
  };
}

/** The rate to size for: the flag's, or the workload's own. */
function targetRate(o: PlanOptions, w: PlanWorkload): { rate: number; source: 'flag' | 'workload' } {
  if (o.rate === 'workload') {
    if (w.ownRate === undefined) throw new UserError(`--rate workload: --workload ${w.source} has no rate of its own (closed-loop traffic); give --rate <requests per second>`);
    return { rate: Number(w.ownRate.toPrecision(6)), source: 'workload' };
  }
  if (typeof o.rate !== 'number' || !(o.rate > 0) || !Number.isFinite(o.rate)) throw new UserError(`--rate must be a number of requests per second > 0 or 'workload', got '${String(o.rate)}'`);
  return { rate: o.rate, source: 'flag' };
}

/** Sizes for the load: see the module comment. Probes are stored in <out>/probes/, shared with max-rate plans. */
export async function planForLoad(o: PlanOptions, simulate?: SimulateBatch): Promise<LoadPlanResult> {
  const s = setup(o);
  const { rate, source } = targetRate(o, s.workload);
  const { live, pruned } = assess(s, enumerateUpTo(o.gpus, shapesOf(s), roleSizes(s)));
  const probed: Assessed[] = [];
  const skipped: SkippedEntry[] = [];
  for (const a of live) {
    const estimate = capacityFrom(a.candidate.mode, a.ceilings);
    if (estimate * CAPACITY_SLACK >= rate) probed.push(a);
    else skipped.push({ id: candidateId(a.candidate), label: candidateLabel(a.candidate), deployment: a.deployment, gpusUsed: candidateGpus(a.candidate), estimate: round(estimate, 3) });
  }
  // Cheapest first; the sort is stable, so equal costs keep enumeration order.
  const cost = (a: Assessed): number => configCost(s, a.candidate) ?? candidateGpus(a.candidate);
  probed.sort((a, b) => cost(a) - cost(b));

  const outDir = o.out !== undefined ? resolve(o.out) : `${defaultOutDir({ ...o, model: s.llm.id, node: s.node.id, transport: s.transport.id })}-${rate}rps`;
  const store = new ProbeStore(join(outDir, PROBES_DIR), o.fresh ?? false);
  const threads = simulate ? undefined : poolSimulator(o.workers);
  const checked: CheckedEntry[] = [];
  const pointOf = new Map<string, Point>();
  const found: Partial<Record<Candidate['mode'], CheckedEntry>> = {};
  const probes = { total: 0, simulated: 0, reused: 0 };
  try {
    for (let i = 0, round = 1; i < probed.length; round++) {
      // The next group of equal cost, less the modes that already have an answer.
      const key = cost(probed[i]!);
      let j = i;
      while (j < probed.length && cost(probed[j]!) === key) j++;
      const group = probed.slice(i, j).filter((a) => found[a.candidate.mode] === undefined);
      i = j;
      if (group.length === 0) {
        if (found.aggregated && found.disaggregated) break;
        continue;
      }
      const points = group.map((a) => probePoint(s.template, a.candidate, a.placement, rate, s.workload, s.sizing, s.extras));
      const { results, simulated } = await probeBatch(points, s, store, simulate ?? threads!.simulate);
      probes.total += points.length;
      probes.simulated += simulated;
      probes.reused += points.length - simulated;
      o.onRound?.(round, points.length, simulated);
      const entries = group.map((a, k) => checkedEntry(a, results[k]!, s.slo, configCost(s, a.candidate)));
      entries.forEach((e, k) => pointOf.set(e.id, points[k]!));
      checked.push(...entries);
      for (const mode of ['aggregated', 'disaggregated'] as const) {
        const best = entries.filter((e) => e.meetsSlo && e.deployment.mode === mode).sort((a, b) => (a.sloUse ?? Infinity) - (b.sloUse ?? Infinity))[0];
        if (best && !found[mode]) found[mode] = best;
      }
      if (found.aggregated && found.disaggregated) break;
    }
  } finally {
    await threads?.close();
  }

  const answer = (e: CheckedEntry | undefined): ModeAnswer | null => (e ? { id: e.id, label: e.label, gpusUsed: e.gpusUsed, costPerHourUsd: e.costPerHourUsd } : null);
  const verdict = loadVerdict(answer(found.aggregated), answer(found.disaggregated), rate, o.gpus);
  const top = verdict.winner === 'disaggregated' ? found.disaggregated : verdict.winner === 'none' ? undefined : (found.aggregated ?? found.disaggregated);
  // A tie goes to aggregated serving: the same GPUs with one kind of worker and no KV transfers to go wrong.
  const recommended = top ? { ...top.deployment, id: top.id, gpusUsed: top.gpusUsed, costPerHourUsd: top.costPerHourUsd, sloUse: top.sloUse } : null;
  return {
    plan: {
      schemaVersion: 1,
      question: 'load',
      inputs: {
        ...inputsOf(s, o.gpus),
        rate,
        rateSource: source,
      },
      recommended,
      verdict,
      checked,
      skipped,
      pruned,
      tpSizes: s.tp,
      ...dpEpOf(s),
    },
    workload: s.workload,
    slo: s.slo,
    sizing: s.sizing,
    recommendedPoint: top ? pointOf.get(top.id)! : null,
    launch: top ? launchFor(s, top.deployment, pointOf.get(top.id)!, `${top.label}: ${top.gpusUsed} GPUs for ${rate} req/s within ${s.slo.map((t) => t.text).join(', ')}`) : null,
    outDir,
    probes,
  };
}
