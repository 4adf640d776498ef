/**
 * `breakeven --slo`: the break-even by input length on goodput, the planner's measure. At each ISL the planner
 * (planner.ts) searches every configuration of the GPU budget for its highest Poisson rate meeting the SLO, and the
 * best of each mode gives that ISL's goodput per GPU (requests per second per GPU). So `breakeven --slo ... --gpus N`
 * at one ISL and `plan --gpus N` on the same lengths give the same answer, by construction: the row is that plan.
 *
 * Each ISL's plan keeps its probes in <out>/plan-isl-<ISL>/probes/, so a rerun simulates nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCatalog, defaultConnector } from '../catalog/index.js';
import { plan, poolSimulator, type PlanOptions } from './planner.js';
import type { ModeBest, RankedEntry } from './types.js';

export interface GoodputSide {
  id: string;
  label: string;
  /** The highest rate meeting the SLO, req/s, and that over the configuration's GPUs. */
  maxRate: number;
  goodputPerGpu: number;
  gpusUsed: number;
  /** At maxRate. */
  ttftP95Ms: number;
  itlP95Ms: number;
}

export interface GoodputRow {
  isl: number;
  /** The best configuration of each mode meeting the SLO at some rate, or null when none does. */
  aggregated: GoodputSide | null;
  disaggregated: GoodputSide | null;
}

export interface GoodputOptions {
  model: string;
  node: string;
  transport: string;
  isl: readonly number[];
  osl: number;
  /** GPU budget of each plan. */
  gpus: number;
  /** A TP the model fits at (the workload file's deployment must load). */
  tp: number;
  slo: string;
  seed: number;
  /** Where each ISL's plan keeps its probes (<out>/plan-isl-<ISL>). */
  out: string;
  workers?: number;
  /** Fewest measured requests per probe (plan's --requests). */
  requests?: number;
  warmup?: number;
}

function side(best: ModeBest | null, ranked: readonly RankedEntry[]): GoodputSide | null {
  if (!best) return null;
  const e = ranked.find((r) => r.id === best.id)!;
  return { id: e.id, label: e.label, maxRate: e.maxRate, goodputPerGpu: e.goodputPerGpu, gpusUsed: e.gpusUsed, ttftP95Ms: e.ttftP95Ms, itlP95Ms: e.itlP95Ms };
}

/** One plan per ISL on Poisson arrivals of exactly that prompt length and `osl` output tokens; one thread pool for all. */
export async function goodputByIsl(o: GoodputOptions): Promise<GoodputRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'nixlsim-breakeven-slo-'));
  const threads = poolSimulator(o.workers);
  try {
    const rows: GoodputRow[] = [];
    for (const isl of o.isl) {
      // The planner reads only the workload of this file (its deployment must load, so one worker at --tp, on the
      // catalog's default connector profile); it sets every probe's deployment itself.
      const file = join(dir, `isl-${isl}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          name: `breakeven-isl-${isl}`,
          seed: o.seed,
          deployment: { mode: 'aggregated', model: o.model, node: o.node, connector: defaultConnector(defaultCatalog()).id, transport: o.transport, aggregated: { workers: 1, tp: o.tp } },
          workload: { kind: 'poisson', rate: 1, requests: 1, isl: { mean: isl, stddev: 0 }, osl: { mean: o.osl, stddev: 0 } },
        }),
      );
      const po: PlanOptions = {
        model: o.model,
        node: o.node,
        transport: o.transport,
        gpus: o.gpus,
        workload: file,
        slo: o.slo,
        seed: o.seed,
        out: join(o.out, `plan-isl-${isl}`),
        ...(o.requests !== undefined ? { requests: o.requests } : {}),
        ...(o.warmup !== undefined ? { warmup: o.warmup } : {}),
      };
      const r = await plan(po, threads.simulate);
      rows.push({ isl, aggregated: side(r.plan.verdict.aggregated, r.plan.ranked), disaggregated: side(r.plan.verdict.disaggregated, r.plan.ranked) });
    }
    return rows;
  } finally {
    await threads.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
