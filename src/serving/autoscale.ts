import { ConstantPredictor, KalmanPredictor, type LoadPredictor } from './load-predictor.js';
import type { Simulator } from '../engine/index.js';
import { FieldError } from '../errors.js';
import { gpusOf, groupParallelism } from '../physics/index.js';
import type { AutoscaleResult, AutoscaleSpec, Deployment } from '../spec/experiment.js';
import type { Cluster, ClusterWorker, ServingRequest, WorkerSlots } from './cluster.js';

/**
 * Dynamo's planner in its load-based "easy mode" (optimization_target throughput or latency; ai-dynamo/dynamo
 * components/src/dynamo/planner/core/load_scaling.py at commit 0c6da1ec, defaults from config/defaults.py at
 * 1ca60155, the targets as the Planner Guide of Dynamo v1.0.2 documents them). Every interval / samples seconds it
 * samples each serving engine's forward-pass metrics (cluster.engineLoad); every interval it averages them per engine
 * and decides, for each role whose previous scaling has finished (Dynamo observes only while one is in progress):
 *   - prefill: queued prompt tokens over the model's context length; one more worker when any engine's ratio reaches
 *     the up threshold (throughput 1.0, latency 0.1), one fewer when every engine's is below the down threshold
 *     (throughput: < 0.1; latency: all queues empty);
 *   - decode: (scheduled + queued KV tokens) over the pool's tokens; up when any is over 1.0 (latency 0.4), down when
 *     all are below 0.6 (latency 0.1);
 *   - aggregated: the decode rule with queued prompt tokens added to the KV tokens.
 * Never below minWorkers (min_endpoint) nor, going up, past maxGpuBudget GPUs held (provisioning workers included) or
 * maxWorkers of a role. A new worker takes requests provisionS after the decision; a worker scaled down leaves its
 * router at once, finishes what it has (Dynamo's graceful shutdown: a decode worker completes its streams, a prefill
 * worker its prompts and the KV decode is still to read) and gives its GPUs back when empty.
 *
 * Ours, not Dynamo's: how the budget splits when prefill and decode both want to grow (prefill first), which worker
 * goes (the highest-numbered serving one) and which comes (the lowest-numbered free slot).
 *
 * Target 'sla' is the planner's throughput-based (predictive) scaling instead, disaggregated only (the Planner Design
 * doc, Dynamo v0.9.1 to v1.1: Scaling Algorithm, steps 1-5). Every interval it reads the requests that arrived, their
 * mean ISL and OSL, and the mean TTFT and ITL of those that completed; predicts the next interval's as the last
 * (the 'constant' predictor); corrects the profile by what it saw (prefill: observed / expected TTFT, decode: observed
 * / expected ITL) and sets each role's replicas outright:
 *   prefill = ceil(requests x ISL / interval x min(1, prefill correction) / prefill tokens/s a GPU / GPUs a worker)
 *   decode  = ceil(requests x OSL / interval / decode tokens/s a GPU at ITL target / decode correction / GPUs a worker)
 * The profile is the engine's own, as the profiler would measure it: a lone prompt's prefill time at the ISL, and the
 * largest decode batch whose step at context ISL + OSL/2 stays within the ITL target.
 */

export type Role = 'prefill' | 'decode' | 'aggregated';

/** Dynamo's easy-mode thresholds (load_scaling.py): [scale up at, scale down below] per target. */
const THRESHOLDS = {
  throughput: { prefill: [1.0, 0.1], decode: [1.0, 0.6] },
  latency: { prefill: [0.1, 0.0], decode: [0.4, 0.1] },
} as const;

type SlotState = 'off' | 'provisioning' | 'serving' | 'draining';

interface Slot {
  role: Role;
  w: ClusterWorker;
  state: SlotState;
  /** Sums of the engine's metric over this interval's samples, and how many. */
  sum: number;
  n: number;
}

/** GPUs one worker of each role holds. */
function gpusPerWorker(d: Deployment): Record<Role, number> {
  return { prefill: gpusOf(groupParallelism(d.prefill)), decode: gpusOf(groupParallelism(d.decode)), aggregated: gpusOf(groupParallelism(d.aggregated)) };
}

function rolesOf(d: Deployment): Role[] {
  return d.mode === 'aggregated' ? ['aggregated'] : ['prefill', 'decode'];
}

/**
 * The worker slots a planner may fill: each role's maxWorkers, else as many as the GPU budget leaves beside the other
 * role at its minimum. The deployed fleet must be within the planner's bounds (a clear error naming the field if not).
 */
export function autoscaleSlots(d: Deployment, a: AutoscaleSpec): WorkerSlots {
  const gpus = gpusPerWorker(d);
  const roles = rolesOf(d);
  const deployed = (r: Role) => d[r].workers;
  const held = roles.reduce((s, r) => s + deployed(r) * gpus[r], 0);
  const off = a.target === 'off';
  if (a.target === 'sla' && d.mode !== 'disaggregated') {
    throw new FieldError(['autoscale', 'target'], "'sla' scales prefill and decode workers: it needs deployment.mode disaggregated");
  }
  if (!off && held > a.maxGpuBudget) {
    throw new FieldError(['autoscale', 'maxGpuBudget'], `the deployed workers hold ${held} GPUs, more than the budget of ${a.maxGpuBudget}`);
  }
  const slots: WorkerSlots = { prefill: d.prefill.workers, decode: d.decode.workers, aggregated: d.aggregated.workers };
  if (off) return slots;
  for (const r of roles) {
    if (deployed(r) < a.minWorkers) throw new FieldError(['deployment', r, 'workers'], `${deployed(r)} is below autoscale.minWorkers (${a.minWorkers})`);
    const max = a.maxWorkers?.[r];
    if (max !== undefined && deployed(r) > max) throw new FieldError(['autoscale', 'maxWorkers', r], `${max} is below the ${deployed(r)} deployed ${r} workers`);
    const others = roles.filter((o) => o !== r).reduce((s, o) => s + a.minWorkers * gpus[o], 0);
    const byBudget = Math.floor((a.maxGpuBudget - others) / gpus[r]);
    slots[r] = Math.max(deployed(r), Math.min(max ?? Infinity, byBudget, 1024));
  }
  return slots;
}

/** p95 by nearest rank of a non-empty list (sorted in place). */
function p95(xs: number[]): number {
  xs.sort((a, b) => a - b);
  return xs[Math.max(0, Math.ceil(0.95 * xs.length) - 1)]!;
}

export class Planner {
  private readonly slots: Slot[] = [];
  private readonly roles: Role[];
  private readonly gpus: Record<Role, number>;
  private readonly period: number;
  private sampleNo = 0;
  private stopped = false;
  private stoppedAt: number | undefined;
  /** GPU-seconds held up to lastT. */
  private gpuSeconds = 0;
  private lastT = 0;
  private scaleUps = 0;
  private scaleDowns = 0;
  private readonly peak: Partial<Record<Role, number>> = {};
  private met = 0;
  private ended = 0;
  private ttfts: number[] = [];
  private completedInBucket = 0;
  /** SLA mode: this interval's arrivals (count, ISL and OSL sums) and completions (TTFT and ITL sums). */
  private readonly seen = { arrived: 0, isl: 0, osl: 0, completed: 0, ttftS: 0, itlS: 0, itlN: 0 };
  private readonly series: AutoscaleResult['series'] = [];
  /** SLA mode: the load predictors of requests an interval, mean ISL and mean OSL. */
  private readonly predict: { requests: LoadPredictor; isl: LoadPredictor; osl: LoadPredictor };

  constructor(
    private readonly sim: Simulator,
    private readonly cluster: Cluster,
    private readonly a: AutoscaleSpec,
    /** The workload's offered rate at a time (req/s), for the series; absent for closed-loop and trace workloads. */
    private readonly rateAt: ((t: number) => number) | undefined,
    /** True once the workload has sent everything and nothing is in flight: the planner stops then. */
    private readonly done: () => boolean,
  ) {
    const d = cluster.d;
    this.roles = rolesOf(d);
    this.gpus = gpusPerWorker(d);
    for (const role of this.roles) {
      cluster.workersOf(role).forEach((w, i) => {
        const state: SlotState = i < d[role].workers ? 'serving' : 'off';
        this.slots.push({ role, w, state, sum: 0, n: 0 });
        if (state === 'off') cluster.setOffline(role, w, true);
      });
      this.peak[role] = d[role].workers;
    }
    this.period = a.intervalS / a.samples;
    const predictor = (): LoadPredictor => (a.predictor === 'kalman' ? new KalmanPredictor(a.kalman, a.predictorLog1p) : new ConstantPredictor());
    this.predict = { requests: predictor(), isl: predictor(), osl: predictor() };
    cluster.trackLoad();
  }

  start(): void {
    if (this.a.target !== 'off') this.sim.schedule(this.period, () => this.sample());
    this.sim.schedule(this.a.seriesS, () => this.point());
  }

  /** GPUs held now: provisioning, serving and draining workers. */
  private heldGpus(): number {
    let g = 0;
    for (const s of this.slots) if (s.state !== 'off') g += this.gpus[s.role];
    return g;
  }

  /** Brings the GPU-seconds up to now (before any change of what is held). */
  private account(): void {
    const now = this.stoppedAt ?? this.sim.now;
    this.gpuSeconds += this.heldGpus() * (now - this.lastT);
    this.lastT = now;
  }

  private count(role: Role, ...states: SlotState[]): number {
    let n = 0;
    for (const s of this.slots) if (s.role === role && states.includes(s.state)) n++;
    return n;
  }

  /** The engine's metric the role's rule reads (see the class comment). */
  private metric(s: Slot): number {
    const load = this.cluster.engineLoad(s.w.engine, s.role);
    if (s.role === 'prefill') return load.queuedPrefillTokens / this.cluster.llm.maxContext;
    const kv = s.role === 'aggregated' ? load.kvTokens + load.queuedPrefillTokens : load.kvTokens;
    return load.maxKvTokens > 0 ? kv / load.maxKvTokens : 0;
  }

  private sample(): void {
    if (this.checkDone()) return;
    for (const s of this.slots) {
      if (s.state === 'serving') {
        s.sum += this.metric(s);
        s.n++;
      } else if (s.state === 'draining' && this.cluster.isEmpty(s.w)) {
        this.account();
        s.state = 'off';
        this.cluster.retire(s.w);
      }
    }
    if (++this.sampleNo % this.a.samples === 0) this.decide();
    this.sim.schedule(this.period, () => this.sample());
  }

  private decide(): void {
    if (this.a.target === 'off') return;
    if (this.a.target === 'sla') return this.decideSla();
    const th = THRESHOLDS[this.a.target];
    for (const role of this.roles) {
      const serving = this.slots.filter((s) => s.role === role && s.state === 'serving');
      const values = serving.filter((s) => s.n > 0).map((s) => s.sum / s.n);
      for (const s of serving) {
        s.sum = 0;
        s.n = 0;
      }
      // Scaling in progress for this role: observe only.
      if (this.count(role, 'provisioning') > 0 || values.length === 0) continue;
      const [up, down] = role === 'prefill' ? th.prefill : th.decode;
      const n = serving.length;
      const wantUp = role === 'prefill' ? values.some((v) => v >= up) : values.some((v) => v > up);
      const wantDown = n > 1 && n > this.a.minWorkers && (role === 'prefill' && this.a.target === 'latency' ? values.every((v) => v <= down) : values.every((v) => v < down));
      if (wantUp) this.scaleUp(role);
      else if (wantDown) this.scaleDown(role, serving);
    }
  }

  /** One more worker of the role, unless a limit stops it (false then). */
  private scaleUp(role: Role): boolean {
    const max = this.a.maxWorkers?.[role];
    if (max !== undefined && this.count(role, 'serving', 'provisioning') >= max) return false;
    if (this.heldGpus() + this.gpus[role] > this.a.maxGpuBudget) return false;
    const slot = this.slots.find((s) => s.role === role && s.state === 'off');
    if (!slot) return false;
    this.account();
    slot.state = 'provisioning';
    this.scaleUps++;
    this.peak[role] = Math.max(this.peak[role] ?? 0, this.count(role, 'serving', 'provisioning'));
    this.sim.schedule(this.a.provisionS, () => {
      if (slot.state !== 'provisioning') return;
      slot.state = 'serving';
      slot.sum = 0;
      slot.n = 0;
      this.cluster.setOffline(role, slot.w, false);
    });
    return true;
  }

  /** The throughput-based step (see the class comment): each role to the replicas the corrected profile asks for. */
  private decideSla(): void {
    const o = { ...this.seen };
    Object.assign(this.seen, { arrived: 0, isl: 0, osl: 0, completed: 0, ttftS: 0, itlS: 0, itlN: 0 });
    if (o.arrived === 0) return; // nothing to predict from: Dynamo skips the interval
    const I = this.a.intervalS;
    // What the interval brought, to the predictors; the next interval's load is their forecast.
    const p = this.predict;
    p.requests.add(o.arrived);
    p.isl.add(o.isl / o.arrived);
    p.osl.add(o.osl / o.arrived);
    const requests = Math.max(0, p.requests.next());
    const isl = Math.max(1, p.isl.next());
    const osl = Math.max(1, p.osl.next());
    const want: Partial<Record<Role, number>> = {};
    const pre = this.slots.find((s) => s.role === 'prefill')!.w.engine;
    const prefillS = pre.prefillSeconds(Math.max(1, Math.round(isl)));
    const prefillCorrection = o.completed > 0 ? o.ttftS / o.completed / prefillS : 1;
    const prefillPerGpu = isl / prefillS / this.gpus.prefill;
    want.prefill = Math.ceil(((requests * isl) / I) * Math.min(1, prefillCorrection) / prefillPerGpu / this.gpus.prefill);
    const dec = this.slots.find((s) => s.role === 'decode')!.w.engine;
    const context = Math.round(isl + osl / 2);
    // The decode batch a worker carried (Little: arrivals a second x seconds decoding each, over the serving workers)
    // and the ITL the profile expects at it; the correction is what was seen over that.
    const itlSeen = o.itlN > 0 ? o.itlS / o.itlN : undefined;
    const servingDecode = Math.max(1, this.count('decode', 'serving'));
    const batchSeen = itlSeen !== undefined ? Math.max(1, Math.round(((o.arrived / I) * osl * itlSeen) / servingDecode)) : 1;
    const decodeCorrection = itlSeen !== undefined ? itlSeen / dec.decodeStepSeconds(batchSeen, context) : 1;
    const targetS = this.a.slo.itlMs / 1000 / decodeCorrection;
    const args = dec.cfg.args;
    const fits = Math.max(1, Math.floor((dec.pool.total * args.blockSize) / Math.max(1, context)));
    let b = 1;
    for (let hi = Math.min(args.maxNumSeqs, fits); b < hi && dec.decodeStepSeconds(b + 1, context) <= targetS; ) b++;
    const decodePerGpu = b / dec.decodeStepSeconds(b, context) / this.gpus.decode;
    want.decode = Math.ceil((requests * osl) / I / decodePerGpu / this.gpus.decode);
    for (const role of this.roles) {
      if (this.count(role, 'provisioning') > 0) continue; // a scaling still in progress: observe only
      const target = Math.max(this.a.minWorkers, want[role]!);
      const serving = this.slots.filter((s) => s.role === role && s.state === 'serving');
      for (let n = serving.length; n < target; n++) if (!this.scaleUp(role)) break;
      for (let n = serving.length; n > target && n > 1; n--) this.scaleDown(role, this.slots.filter((s) => s.role === role && s.state === 'serving'));
    }
  }

  /** SLA mode: a request was sent (its lengths are what the planner's frontend metrics read). */
  sent_(r: ServingRequest): void {
    this.seen.arrived++;
    this.seen.isl += r.isl;
    this.seen.osl += r.osl;
  }

  private scaleDown(role: Role, serving: Slot[]): void {
    const slot = serving[serving.length - 1]!;
    slot.state = 'draining';
    this.scaleDowns++;
    this.cluster.setOffline(role, slot.w, true);
  }

  /** A measured request ended: SLO attainment and the interval's TTFT p95. */
  ended_(r: ServingRequest): void {
    if (r.warmup) return;
    this.ended++;
    if (r.status !== 'completed' || r.firstTokenAt === undefined) return;
    const ttftMs = (r.firstTokenAt - r.sentAt) * 1000;
    const itlMs = r.outputTokens > 1 && r.lastTokenAt !== undefined ? ((r.lastTokenAt - r.firstTokenAt) / (r.outputTokens - 1)) * 1000 : 0;
    if (ttftMs <= this.a.slo.ttftMs && itlMs <= this.a.slo.itlMs) this.met++;
    this.seen.completed++;
    this.seen.ttftS += ttftMs / 1000;
    if (r.outputTokens > 1) {
      this.seen.itlS += itlMs / 1000;
      this.seen.itlN++;
    }
    this.ttfts.push(ttftMs);
    this.completedInBucket++;
  }

  private checkDone(): boolean {
    if (this.stopped) return true;
    if (!this.done()) return false;
    this.account();
    this.stopped = true;
    this.stoppedAt = this.sim.now;
    return true;
  }

  /** One point of the time series, at the end of a seriesS bucket. */
  private point(): void {
    const stop = this.checkDone();
    const t = this.sim.now;
    const workers: Record<string, number> = {};
    for (const role of this.roles) workers[role] = this.count(role, 'provisioning', 'serving', 'draining');
    const round = (x: number) => Math.round(x * 1000) / 1000;
    this.series.push({
      tS: round(t),
      rate: this.rateAt ? round(this.rateAt(t - this.a.seriesS / 2)) : null,
      workers,
      ttftP95Ms: this.ttfts.length > 0 ? round(p95(this.ttfts)) : null,
      completed: this.completedInBucket,
    });
    this.ttfts = [];
    this.completedInBucket = 0;
    if (!stop) this.sim.schedule(this.a.seriesS, () => this.point());
  }

  /** The summary at the end of the run (the horizon, or when the workload finished). */
  result(): AutoscaleResult {
    this.account();
    const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
    return {
      target: this.a.target,
      gpuHours: round(this.gpuSeconds / 3600, 4),
      slo: { ttftMs: this.a.slo.ttftMs, itlMs: this.a.slo.itlMs },
      sloAttainment: this.ended > 0 ? round(this.met / this.ended, 4) : null,
      metSlo: this.met,
      ended: this.ended,
      scaleUps: this.scaleUps,
      scaleDowns: this.scaleDowns,
      peakWorkers: Object.fromEntries(this.roles.map((r) => [r, this.peak[r] ?? 0])),
      series: this.series,
    };
  }
}
