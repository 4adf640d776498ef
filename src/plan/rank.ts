/**
 * From searched configurations to the ranking, the Pareto front and the verdict. Pure.
 *
 * Ranking: goodput per GPU, highest first; ties go to the lower TTFT p95, then to fewer GPUs, then to enumeration
 * order. Configurations that met the SLO at no rate come last (goodput 0).
 */
import type { PointResult } from '../spec/experiment.js';
import { candidateGpus, candidateId, candidateLabel, type Candidate } from './enumerate.js';
import { capacityFrom, type Ceilings } from './estimate.js';
import type { SearchResult } from './search.js';
import { usdPerMillionTokens } from './cost.js';
import { checkSlo, type SloTerm } from './slo.js';
import type { DeploymentSection, ModeBest, PrunedEntry, RankedEntry, Verdict } from './types.js';

export interface SearchedConfig {
  candidate: Candidate;
  deployment: DeploymentSection;
  search: SearchResult;
  /** Each probe's result, by rate. */
  results: Map<number, PointResult>;
  /** One mean-length request's KV transfer alone, ms (disaggregated). */
  kvAloneMs: number | null;
  /** Physics estimates of the rate each part of the configuration could sustain (estimate.ts). */
  ceilings: Ceilings;
}

const round = (x: number, digits = 6): number => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : 0);

function limitAt(rate: number | null, r: PointResult | undefined, slo: readonly SloTerm[]): RankedEntry['limit'] {
  if (rate === null || !r) return { rate, violations: [], bound: [] };
  const c = checkSlo(r, slo);
  const q = r.requests;
  const completion = q.completed === 0 || q.failed > 0 || q.inFlight > 0 ? ['completion'] : [];
  return { rate, violations: c.violations, bound: [...c.broken.map((t) => `${t.metric}_${t.stat}`), ...completion] };
}

/** One configuration's entry (rank 0 until ranked). */
export function entryOf(s: SearchedConfig, slo: readonly SloTerm[], cost: number | null = null): Omit<RankedEntry, 'rank' | 'pareto'> {
  const c = s.candidate;
  const gpus = candidateGpus(c);
  const { maxRate, failRate, probes, limit } = s.search;
  // The numbers at the answer; with no passing rate, at the lowest rate tried (the closest it came).
  const at = maxRate > 0 ? maxRate : Math.min(...probes.map((p) => p.rate));
  const r = s.results.get(at);
  const fail = failRate !== null ? s.results.get(failRate) : undefined;
  const perM = r && maxRate > 0 ? usdPerMillionTokens(cost, r.throughput.outputTokensPerS) : null;
  return {
    id: candidateId(c),
    label: candidateLabel(c),
    deployment: s.deployment,
    gpusUsed: gpus,
    maxRate,
    goodputPerGpu: round(maxRate / gpus),
    // plan.json's latencies are numbers: 0 where the lowest rate tried had no samples (it then fails the SLO).
    ttftP95Ms: r ? round(r.ttftMs.p95 ?? 0, 3) : 0,
    itlP95Ms: r ? round(r.itlMs.p95 ?? 0, 3) : 0,
    ttftP50Ms: r ? round(r.ttftMs.p50 ?? 0, 3) : 0,
    meetsSlo: maxRate > 0,
    outputTokensPerSPerGpu: r && maxRate > 0 ? round(r.throughput.outputTokensPerS / gpus, 3) : 0,
    costPerHourUsd: cost === null ? null : round(cost, 4),
    usdPerMillionOutputTokens: perM === null ? null : round(perM, 4),
    kvTransferP50Ms: c.mode === 'disaggregated' && r && r.kvTransfer.ms.p50 !== null ? round(r.kvTransfer.ms.p50, 3) : null,
    kvTransferAloneMs: s.kvAloneMs === null ? null : round(s.kvAloneMs, 3),
    ceilings: {
      prefill: round(s.ceilings.prefill, 3),
      decode: round(s.ceilings.decode, 3),
      ...(s.ceilings.kvTransfer !== undefined ? { kvTransfer: round(s.ceilings.kvTransfer, 3) } : {}),
      basis: Object.fromEntries(Object.entries(s.ceilings.basis).map(([k, v]) => [k, round(v, 6)])) as Ceilings['basis'],
    },
    estimate: round(capacityFrom(c.mode, s.ceilings), 3),
    limit: limitAt(failRate, fail, slo),
    searchLimit: limit,
    probes,
  };
}

/** Whether b is at least as good as a on both axes and better on one (more goodput per GPU, lower TTFT p95). */
function dominates(b: { goodputPerGpu: number; ttftP95Ms: number }, a: { goodputPerGpu: number; ttftP95Ms: number }): boolean {
  return b.goodputPerGpu >= a.goodputPerGpu && b.ttftP95Ms <= a.ttftP95Ms && (b.goodputPerGpu > a.goodputPerGpu || b.ttftP95Ms < a.ttftP95Ms);
}

/** Ranks the entries (given in enumeration order) and marks the Pareto front among those that met the SLO. */
export function rank(entries: readonly Omit<RankedEntry, 'rank' | 'pareto'>[]): RankedEntry[] {
  const order = entries.map((e, i) => ({ e, i }));
  order.sort((a, b) => b.e.goodputPerGpu - a.e.goodputPerGpu || a.e.ttftP95Ms - b.e.ttftP95Ms || a.e.gpusUsed - b.e.gpusUsed || a.i - b.i);
  const feasible = entries.filter((e) => e.meetsSlo);
  return order.map(({ e }, k) => ({ ...e, rank: k + 1, pareto: e.meetsSlo && !feasible.some((o) => o !== e && dominates(o, e)) }));
}

function best(ranked: readonly RankedEntry[], mode: 'aggregated' | 'disaggregated'): ModeBest | null {
  const e = ranked.find((r) => r.deployment.mode === mode && r.meetsSlo);
  return e ? { id: e.id, label: e.label, maxRate: e.maxRate, goodputPerGpu: e.goodputPerGpu } : null;
}

const perGpu = (x: number): string => `${x.toPrecision(3)} req/s per GPU`;

/**
 * Aggregated against disaggregated: the best of each by goodput per GPU. Each maxRate is known to within the search's
 * precision (the true maximum is up to that much higher), so a margin smaller than it is called a tie.
 */
export function verdictOf(ranked: readonly RankedEntry[], precision: number, pruned: readonly PrunedEntry[] = []): Verdict {
  const agg = best(ranked, 'aggregated');
  const dis = best(ranked, 'disaggregated');
  /** Why a mode has no configuration meeting the SLO: none could run, or none met it. */
  const none = (mode: 'aggregated' | 'disaggregated'): string => {
    const searched = ranked.filter((r) => r.deployment.mode === mode).length;
    const cut = pruned.filter((p) => p.deployment.mode === mode);
    if (searched === 0 && cut.length > 0) {
      const rules = [...new Set(cut.map((p) => p.rule))].join(', ');
      return `no ${mode} configuration can run (all ${cut.length} pruned: ${rules})`;
    }
    if (searched === 0) return `the budget allows no ${mode} configuration`;
    return `no ${mode} configuration meets it at any rate tried`;
  };
  if (!agg && !dis) {
    return { aggregated: null, disaggregated: null, winner: 'none', marginPct: null, text: `Nothing meets the SLO: ${none('aggregated')}, and ${none('disaggregated')}.` };
  }
  if (!agg || !dis) {
    const [w, l] = agg ? ['aggregated', 'disaggregated'] : ['disaggregated', 'aggregated'];
    const b = (agg ?? dis)!;
    return {
      aggregated: agg,
      disaggregated: dis,
      winner: w as 'aggregated' | 'disaggregated',
      marginPct: null,
      text: `Only ${w} serving meets the SLO: ${b.label} at ${perGpu(b.goodputPerGpu)}; ${none(l as 'aggregated' | 'disaggregated')}.`,
    };
  }
  const ratio = dis.goodputPerGpu / agg.goodputPerGpu;
  // The lead of the one ahead, as the text says it: (higher / lower - 1) x 100, never negative.
  const lead = Math.max(ratio, 1 / ratio);
  const marginPct = Math.round((lead - 1) * 1000) / 10;
  const pct = `${marginPct.toFixed(1)}%`;
  if (lead - 1 < precision) {
    return {
      aggregated: agg,
      disaggregated: dis,
      winner: 'tie',
      marginPct,
      text:
        `A tie: the best disaggregated configuration (${dis.label}, ${perGpu(dis.goodputPerGpu)}) and the best aggregated one ` +
        `(${agg.label}, ${perGpu(agg.goodputPerGpu)}) differ by ${pct}, less than the search's ${(precision * 100).toFixed(0)}% precision.`,
    };
  }
  const [w, l] = ratio > 1 ? [dis, agg] : [agg, dis];
  return {
    aggregated: agg,
    disaggregated: dis,
    winner: ratio > 1 ? 'disaggregated' : 'aggregated',
    marginPct,
    text: `${ratio > 1 ? 'Disaggregated' : 'Aggregated'} serving wins by ${pct} goodput per GPU: ${w.label} at ${perGpu(w.goodputPerGpu)} against ${l.label} at ${perGpu(l.goodputPerGpu)}.`,
  };
}
