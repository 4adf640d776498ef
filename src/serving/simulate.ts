import { setFlagsFromString } from 'node:v8';
import type { Catalog } from '../spec/catalog.js';
import { getLlm } from '../catalog/index.js';
import { Simulator } from '../engine/index.js';
import { FieldError, InvariantError, UserError } from '../errors.js';
import type { BlockHash, FaultKind, Point, PointResult, PrefixCacheResult, Stats, TurnResult } from '../spec/experiment.js';
import { checkDeadline, checkHeap } from '../deadline.js';
import { FaultInjector } from '../faults/injector.js';
import { EventLog, linkDownLine, linkUpLine } from '../metrics/event-log.js';
import { LatencyHistogram } from '../metrics/histogram.js';
import type { Efficiency } from '../physics/index.js';
import { ConversationSource, makeSource, type RequestSpec } from '../workload/index.js';
import { rateProfile } from '../workload/rate.js';
import { autoscaleSlots, Planner } from './autoscale.js';
import { Cluster, type LoadOutcome, type ServingRequest } from './cluster.js';
import { MAX_IN_FLIGHT, RequestLedger, type RequestCounts } from './ledger.js';

/** When the invariants are checked: at the end of the run (always), or also after every event (debug mode). */
export type InvariantMode = 'end' | 'every-event';

/** NIXLSIM_DEBUG_INVARIANTS=1 turns on the per-event checks for runs that do not choose (e.g. `nixlsim run`). */
export const DEBUG_INVARIANTS_ENV = 'NIXLSIM_DEBUG_INVARIANTS';
/**
 * Test-only: NIXLSIM_TEST_CORRUPT=double-end | lose-end | leak-block breaks the books on purpose (the first request
 * to end is reported twice / dropped from the metrics; a KV block leaks) so that tests can see a violation exit 3.
 */
export const TEST_CORRUPT_ENV = 'NIXLSIM_TEST_CORRUPT';

export interface SimulateOptions {
  /** Efficiency factors to use instead of the GPU record's (calibration, Monte Carlo). */
  efficiency?: Efficiency;
  /**
   * Per-rail bandwidth of the KV transport in bytes/s, instead of the deployment's min / typical / max pick (Monte
   * Carlo samples and sensitivity runs draw it from the catalog's range). Ignored in aggregated mode (no transfers).
   */
  bandwidthPerRail?: number;
  /** The KV transport's cost per descriptor in seconds, instead of the catalog's figure (Monte Carlo, sensitivity). */
  perDescriptorS?: number;
  /** Event log lines to keep (the counters are exact either way). */
  maxLogLines?: number;
  /** Default 'end', or 'every-event' when NIXLSIM_DEBUG_INVARIANTS=1. */
  checkInvariants?: InvariantMode;
}

/** What the invariants were checked on, for tests of the accounting identities: every request, warm-up included. */
export interface RunAudit {
  requests: RequestCounts;
  /** How the KV loads ended (disaggregated mode). */
  loads: Record<LoadOutcome, number>;
  /** Failed transfer attempts re-issued under the retry policy. */
  retries: number;
  /** Faults the injector delivered or rolled, by kind. */
  faults: Record<FaultKind, number>;
  /** Events the kernel ran. */
  events: number;
  /** Events still pending at the horizon (0: the run went quiet before it; anything in flight then waits for ever). */
  pendingEvents: number;
}

/** The catalog figures a run may replace (what a Monte Carlo sample or a sensitivity run varies). */
export type SimulateOverrides = Pick<SimulateOptions, 'efficiency' | 'bandwidthPerRail' | 'perDescriptorS'>;

export interface SimulationRun {
  result: PointResult;
  log: EventLog;
  audit: RunAudit;
}

/** Runs one point of an experiment to completion (or its horizon) and summarises it. Deterministic for a seed. */
export function simulatePoint(point: Point, catalog: Catalog, options: SimulateOptions = {}): PointResult {
  return runPoint(point, catalog, options).result;
}

/**
 * The same, keeping the event log: builds the deployment, drives the workload (closed loop: a new request each time
 * one ends; open loop: at the source's arrival times), injects the faults, runs the kernel and collects the metrics
 * of the measured (non-warm-up) requests.
 */
export function runPoint(point: Point, catalog: Catalog, options: SimulateOptions = {}): SimulationRun {
  avoidPretenuring();
  const sim = new Simulator(point.experiment.seed);
  try {
    return simulate(point, catalog, options, sim);
  } catch (err) {
    throw err instanceof InvariantError ? withContext(err, point.id, sim.now) : err;
  }
}

let pretenuringOff = false;

/**
 * Turns off V8's allocation-site pretenuring, for the whole process (V8's flags are global; no result depends on them).
 * V8 allocates the objects of an object literal straight in the old generation once most of those it made outlived a
 * scavenge, and it keeps to that. A burst of queued requests does it to the request objects (and to what they hold)
 * in some runs and not others: each request then dies in the old generation, and what it points to survives every
 * scavenge until the next full collection. The million-request replay (bench:scale) spent 19% of its time collecting
 * garbage with the heuristic and 7% without it, and ran a third faster. A simulation's requests are short-lived
 * whatever a burst suggests.
 */
function avoidPretenuring(): void {
  if (pretenuringOff) return;
  setFlagsFromString('--no-allocation-site-pretenuring');
  pretenuringOff = true;
}

/** The report an invariant violation exits 3 with starts with where it happened: the point and the simulated time. */
function withContext(err: InvariantError, pointId: string, now: number): InvariantError {
  const message = `point ${pointId}, t=${now} s: ${err.message}`;
  const out = new InvariantError(message);
  if (err.stack) out.stack = err.stack.replace(err.message, message);
  return out;
}

function simulate(point: Point, catalog: Catalog, options: SimulateOptions, sim: Simulator): SimulationRun {
  const exp = point.experiment;
  const log = new EventLog({ maxLines: options.maxLogLines ?? 2000 });
  const overrides = {
    ...(options.efficiency ? { efficiency: options.efficiency } : {}),
    ...(options.bandwidthPerRail !== undefined ? { bandwidthPerRail: options.bandwidthPerRail } : {}),
    ...(options.perDescriptorS !== undefined ? { perDescriptorS: options.perDescriptorS } : {}),
  };
  const cluster = new Cluster(sim, log, catalog, exp.deployment, overrides, exp.autoscale ? autoscaleSlots(exp.deployment, exp.autoscale) : undefined);
  const llm = getLlm(catalog, exp.deployment.model);
  const blockSize = exp.deployment.engine.blockSize;
  const source = makeSource(
    exp.workload,
    { lengths: sim.rng('workload:lengths'), arrivals: sim.rng('workload:arrivals'), sessions: sim.rng('workload:sessions') },
    { maxContext: llm.maxContext, blockSize },
  );
  const conversations = source instanceof ConversationSource ? source : undefined;

  const m = new Metrics();
  const ledger = new RequestLedger();
  let corrupt = process.env[TEST_CORRUPT_ENV];
  let exhausted = false;
  /** Conversations' next turns waiting out their delay: sent later, so the workload is not over while any waits. */
  let thinking = 0;
  const workloadOver = (): boolean => exhausted && thinking === 0 && ledger.inFlight() === 0;
  /** When the last request (warm-up included) ended: the end of the served window, unless some run past the horizon. */
  let lastEndS = 0;

  let injector: FaultInjector | undefined;
  let planner: Planner | undefined;
  const onEnd = (r: ServingRequest, clientFree = true): void => {
    ledger.ended(r, sim.now);
    planner?.ended_(r);
    lastEndS = sim.now;
    if (!r.warmup) m.record(r);
    if (corrupt !== undefined && !r.warmup) {
      corruptBooks(corrupt, r, ledger, m, cluster);
      corrupt = undefined;
    }
    if (exp.workload.kind === 'closed-loop' && clientFree) sendNext();
    endOfWorkload();
  };
  // The run ends with its workload: once every request has been sent and has ended, no new fault arrives.
  const endOfWorkload = (): void => {
    if (workloadOver()) injector?.stopArrivals();
  };
  /** A conversation's turn ended: its next turn is sent after the delay; a closed loop's client starts a new one when it is over. */
  const onTurnEnd = (r: ServingRequest, spec: RequestSpec): void => {
    const next = conversations!.followUp(spec, r.outputTokens, r.status === 'completed');
    if (next) thinking++;
    onEnd(r, next === null);
    if (next) {
      sim.schedule(next.delayS, (s: RequestSpec) => {
        thinking--;
        send(s);
      }, next.spec);
    }
  };
  const send = (spec: RequestSpec): void => {
    const r: ServingRequest = {
      id: spec.id,
      isl: spec.isl,
      osl: spec.osl,
      warmup: spec.warmup,
      sentAt: sim.now,
      outputTokens: 0,
      status: 'running',
      fellBack: false,
      stale: false,
      onEnd: spec.conversation ? (x) => onTurnEnd(x, spec) : onEnd,
    };
    if (spec.turn !== undefined) r.turn = spec.turn;
    if (ledger.inFlight() >= MAX_IN_FLIGHT) {
      throw new UserError(
        `more than ${MAX_IN_FLIGHT.toLocaleString('en-US')} requests in flight at t = ${sim.now.toFixed(3)} s: the arrivals outrun what the deployment serves, ` +
          'and the queue would grow until memory runs out; lower workload.rate (or a trace\'s speedup) or workload.requests, or add workers',
      );
    }
    const hashes = spec.blockHashes ?? blockHashes(spec, blockSize);
    if (hashes) r.hashes = hashes;
    ledger.sent(r);
    planner?.sent_(r);
    if (!r.warmup) m.sent(r);
    cluster.submit(r);
  };
  const sendNext = (): void => {
    if (exhausted) return;
    const spec = source.next();
    if (!spec) {
      exhausted = true;
      return;
    }
    send(spec);
  };

  if (exp.workload.kind === 'closed-loop') {
    for (let i = 0; i < exp.workload.concurrency; i++) sim.schedule(0, sendNext);
  } else {
    // Open loop: one arrival event at a time, so a million-request trace never sits in the queue at once.
    const arrive = (spec: RequestSpec): void => {
      send(spec);
      const next = source.next();
      if (next) sim.at(Math.max(sim.now, next.arrivalS ?? sim.now), arrive, next);
      else exhausted = true;
    };
    const first = source.next();
    if (first) sim.at(first.arrivalS ?? 0, arrive, first);
    else exhausted = true;
  }

  if (exp.autoscale) {
    const rate = exp.workload.kind === 'poisson' ? rateProfile(exp.workload.rate) : undefined;
    planner = new Planner(sim, cluster, exp.autoscale, rate ? (t) => rate.at(Math.max(0, t)) : undefined, workloadOver);
    planner.start();
  }
  injector = installFaults(sim, cluster, log, point, exp.horizonS);
  const mode = options.checkInvariants ?? (process.env[DEBUG_INVARIANTS_ENV] === '1' ? 'every-event' : 'end');
  if (mode === 'every-event') {
    sim.checkEveryEvent(() => {
      cluster.check();
      ledger.check();
    });
  }
  // In chunks of events, so that the guards can stop a long or swelling run between them (the events run are the same):
  // --timeout, and the heap, checked often enough that no chunk can take it from the guard's share to V8's limit.
  const CHUNK = 1 << 14;
  while (sim.run({ until: exp.horizonS, maxEvents: CHUNK }) === CHUNK) {
    checkDeadline();
    checkHeap();
  }
  sim.checkEveryEvent(undefined);

  // The end-of-run checks, in every run.
  if (!(sim.now <= exp.horizonS)) throw new InvariantError(`the run stops at its horizon: the clock reads ${sim.now} s, the horizon is ${exp.horizonS} s`);
  cluster.check();
  ledger.check();
  // Utilisation is over the window the workload kept the deployment serving: to the last request's end, or to the
  // horizon when requests were still running there (not to the horizon a finished run's clock is moved to).
  const windowS = ledger.inFlight() > 0 ? sim.now : lastEndS;
  const result = m.result(point, windowS, log, cluster);
  if (planner) result.autoscale = planner.result();
  checkResult(result, ledger);
  const audit: RunAudit = {
    requests: ledger.counts(),
    loads: { ...cluster.loadOutcomes },
    retries: cluster.kvRetries,
    faults: injector ? injector.counts() : { connection_reset: 0, health_503: 0, link_down: 0, worker_restart: 0 },
    events: sim.eventsRun,
    pendingEvents: sim.pending,
  };
  return { result, log, audit };
}

/**
 * The measured requests' counts in summary.json against the ledger: total = completed + failed + inFlight, the
 * metrics' in-flight count is the ledger's live measured requests, and fellBack and stale count only ended ones.
 */
function checkResult(result: PointResult, ledger: RequestLedger): void {
  const r = result.requests;
  const live = ledger.inFlight(true);
  if (r.completed + r.failed + r.inFlight !== r.total || r.inFlight !== live || r.fellBack > r.completed + r.failed || r.stale > r.completed + r.failed) {
    throw new InvariantError(
      `every measured request ends completed or failed, or is in flight: summary says ${r.total} sent, ${r.completed} completed, ` +
        `${r.failed} failed, ${r.inFlight} in flight (${r.fellBack} fell back, ${r.stale} stale); the ledger has ${live} measured requests in flight`,
    );
  }
}

/** Test-only corruptions (TEST_CORRUPT_ENV), done once, when the first measured request ends. */
function corruptBooks(what: string, r: ServingRequest, ledger: RequestLedger, m: Metrics, cluster: Cluster): void {
  if (what === 'double-end') ledger.ended(r, r.doneAt ?? 0);
  else if (what === 'lose-end') m.forget(r);
  else if (what === 'leak-block') cluster.engines[cluster.engines.length - 1]!.pool.allocate(1);
}

/**
 * Engine-block hashes of a prompt from Mooncake's hash_ids (one per 512 tokens): each splits into its blocks, block j
 * of hash h numbered h x 1024 + j (a hash id splits into at most 512 blocks, at one token a block).
 */
function blockHashes(spec: RequestSpec, blockSize: number): BlockHash[] | undefined {
  if (!spec.hashIds || !spec.hashBlockTokens) return undefined;
  const per = Math.max(1, Math.floor(spec.hashBlockTokens / blockSize));
  if (per > 1024) throw new InvariantError(`a hash id of ${spec.hashBlockTokens} tokens splits into ${per} blocks of ${blockSize}: more than the 1024 its numbering allows`);
  const full = Math.floor(spec.isl / blockSize);
  const out: number[] = [];
  for (const h of spec.hashIds) {
    for (let j = 0; j < per && out.length < full; j++) out.push(h * 1024 + j);
  }
  return out;
}

function installFaults(sim: Simulator, cluster: Cluster, log: EventLog, point: Point, horizonS: number): FaultInjector | undefined {
  const specs = point.experiment.faults;
  if (specs.length === 0) return undefined;
  const { workers, links } = cluster.targets();
  specs.forEach((s, i) => {
    const t = 'target' in s ? s.target : undefined;
    if (s.kind === 'link_down' && !links.includes(s.target)) {
      throw new FieldError(['faults', i, 'target'], `no link '${s.target}' (links: ${links.join(', ') || 'none: aggregated mode'})`);
    }
    // Worker-level faults name a worker; health_503 may also name the frontend, where the probability check runs.
    const frontend = s.kind === 'health_503' && t === 'frontend';
    if (s.kind !== 'link_down' && t !== undefined && !frontend && !workers.has(t)) {
      throw new FieldError(['faults', i, 'target'], `no worker '${t}' (workers: ${[...workers.keys()].join(', ')})`);
    }
  });
  const inj = new FaultInjector(sim, specs, { until: horizonS });
  const pick = sim.rng('faults:pick');
  const streamers = [...cluster.decodeWorkers, ...cluster.aggWorkers].map((w) => w.engine);
  const downSince = new Map<string, number>();
  inj.on('link_down', (f) => {
    const id = f.target!;
    if (f.phase === 'down') {
      downSince.set(id, sim.now);
      cluster.fabric?.setLinkState(id, false);
      log.emit('link_down', { time: sim.now, component: id, line: linkDownLine(id) });
    } else {
      cluster.fabric?.setLinkState(id, true);
      log.emit('link_up', { time: sim.now, component: id, line: linkUpLine(id, sim.now - (downSince.get(id) ?? sim.now)) });
    }
  });
  inj.on('connection_reset', (f) => {
    const target = f.target !== undefined ? workers.get(f.target)?.engine : streamers.length ? pick.choice(streamers) : undefined;
    if (target) cluster.connectionReset(target);
  });
  inj.on('health_503', (f) => cluster.health503(f.target ?? 'frontend'));
  inj.on('worker_restart', (f) => {
    if (f.phase === 'start') {
      cluster.workerDown(f.target!);
      cluster.health503(f.target!);
    } else {
      cluster.workerUp(f.target!);
    }
  });
  cluster.roll = (kind, target) => inj.roll(kind, target);
  inj.start();
  return inj;
}

const CDF_PERCENTILES = [0, 1, 2, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 98, 99, 99.9, 100];

/** The measured requests' numbers, in constant memory. */
class Metrics {
  private readonly ttft = new LatencyHistogram();
  private readonly itl = new LatencyHistogram();
  private readonly e2e = new LatencyHistogram();
  private readonly queue = new LatencyHistogram();
  private readonly kv = new LatencyHistogram();
  private total = 0;
  private completed = 0;
  private failed = 0;
  private fellBack = 0;
  private stale = 0;
  private kvBytes = 0;
  private kvSeconds = 0;
  private kvCount = 0;
  private outputTokens = 0;
  private firstSent = Infinity;
  private lastEnd = 0;
  /** With workload.sessions: the measured turns by their number in the conversation. */
  private readonly turns = new Map<number, { ttft: LatencyHistogram; completed: number; failed: number; promptTokens: number }>();

  sent(r: ServingRequest): void {
    this.total++;
    this.firstSent = Math.min(this.firstSent, r.sentAt);
  }

  /** Test-only (TEST_CORRUPT_ENV=lose-end): unrecords an ended request, as a bug that lost it would. */
  forget(r: ServingRequest): void {
    if (r.warmup) return;
    if (r.status === 'completed') this.completed--;
    else this.failed--;
  }

  record(r: ServingRequest): void {
    this.lastEnd = Math.max(this.lastEnd, r.doneAt ?? 0);
    if (r.fellBack) this.fellBack++;
    if (r.stale) this.stale++;
    if (r.kv) {
      this.kv.record(r.kv.finishedAt - r.kv.startedAt);
      this.kvBytes += r.kv.bytes;
      this.kvSeconds += r.kv.finishedAt - r.kv.startedAt;
      this.kvCount++;
    }
    const turn = r.turn === undefined ? undefined : this.turnOf(r.turn);
    if (r.status === 'failed') {
      this.failed++;
      if (turn) turn.failed++;
      return;
    }
    this.completed++;
    if (turn) {
      turn.completed++;
      turn.promptTokens += r.isl;
      if (r.firstTokenAt !== undefined) turn.ttft.record(r.firstTokenAt - r.sentAt);
    }
    this.outputTokens += r.outputTokens;
    if (r.firstTokenAt !== undefined) this.ttft.record(r.firstTokenAt - r.sentAt);
    if (r.scheduledAt !== undefined) this.queue.record(r.scheduledAt - r.sentAt);
    if (r.doneAt !== undefined) this.e2e.record(r.doneAt - r.sentAt);
    // genai-perf's inter-token latency: (last token - first token) / (output tokens - 1), one value per request.
    if (r.outputTokens > 1 && r.firstTokenAt !== undefined && r.lastTokenAt !== undefined) {
      this.itl.record((r.lastTokenAt - r.firstTokenAt) / (r.outputTokens - 1));
    }
  }

  private turnOf(n: number): { ttft: LatencyHistogram; completed: number; failed: number; promptTokens: number } {
    let t = this.turns.get(n);
    if (!t) this.turns.set(n, (t = { ttft: new LatencyHistogram(), completed: 0, failed: 0, promptTokens: 0 }));
    return t;
  }

  /** The measured turns by number: requests completed and failed, mean prompt tokens and TTFT of the completed. */
  private turnResults(): TurnResult[] {
    return [...this.turns.entries()]
      .sort(([a], [b]) => a - b)
      .map(([turn, t]) => ({
        turn,
        completed: t.completed,
        failed: t.failed,
        promptTokensMean: t.completed > 0 ? Math.round((t.promptTokens / t.completed) * 1e3) / 1e3 : null,
        ttftMs: t.ttft.summary(),
      }));
  }

  /** `windowS`: the served window utilisation is measured over (seconds from 0). */
  result(point: Point, windowS: number, log: EventLog, cluster: Cluster): PointResult {
    const duration = this.completed + this.failed > 0 && this.firstSent < Infinity ? Math.max(0, this.lastEnd - this.firstSent) : 0;
    const round = (x: number, d = 6) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : 0);
    const workers: Record<string, number> = {};
    const kvPoolPeak: Record<string, number> = {};
    for (const e of cluster.engines) {
      // A step is counted busy when it starts, so one running past the window's end is capped at the window.
      workers[e.id] = windowS > 0 ? round(Math.min(1, e.busyTime / windowS), 4) : 0;
      kvPoolPeak[e.id] = e.pool.total > 0 ? round(e.pool.peak / e.pool.total, 4) : 0;
    }
    const links: Record<string, number> = {};
    for (const l of cluster.net.links) links[l.id] = windowS > 0 ? round(Math.min(1, l.utilisationOver(windowS)), 4) : 0;
    return {
      id: point.id,
      params: point.params,
      requests: {
        total: this.total,
        completed: this.completed,
        failed: this.failed,
        fellBack: this.fellBack,
        inFlight: this.total - this.completed - this.failed,
        stale: this.stale,
      },
      ttftMs: this.ttft.summary(),
      itlMs: this.itl.summary(),
      e2eMs: this.e2e.summary(),
      queueMs: this.queue.summary(),
      kvTransfer: {
        bytesMean: this.kvCount ? round(this.kvBytes / this.kvCount, 0) : null,
        ms: this.kv.summary(),
        effectiveGBps: this.kvSeconds > 0 ? round(this.kvBytes / this.kvSeconds / 1e9, 4) : null,
      },
      throughput: {
        outputTokensPerS: duration > 0 ? round(this.outputTokens / duration, 3) : 0,
        requestsPerS: duration > 0 ? round(this.completed / duration, 4) : 0,
      },
      utilisation: { workers, kvPoolPeak, links },
      events: log.counts(),
      durationS: round(duration, 6),
      ttftCdfMs: this.ttft.count === 0 ? [] : CDF_PERCENTILES.map((p) => ({ p, ms: round(this.ttft.percentileS(p) * 1000, 3) })),
      expiry: { connector: cluster.profile.id, ...cluster.profile.expiry },
      ...(cluster.engines.some((e) => e.hostTier || e.prefixHits.promptBlocks > 0) ? { prefixCache: prefixCache(cluster) } : {}),
      ...(point.experiment.workload.sessions ? { turns: this.turnResults() } : {}),
      ...(point.experiment.deployment.mode === 'disaggregated' && point.experiment.deployment.conditionalDisagg
        ? { conditionalDisagg: { localPrefills: cluster.prefills.local, remotePrefills: cluster.prefills.remote } }
        : {}),
    };
  }
}

/** Where the prompts' full blocks were found, over every worker: its GPU cache, its host tier, or nowhere. */
function prefixCache(cluster: Cluster): PrefixCacheResult {
  let promptBlocks = 0;
  let gpu = 0;
  let host = 0;
  let disk = 0;
  let object = 0;
  const tier = { storedBlocks: 0, onboardedBlocks: 0, evictedBlocks: 0, droppedStores: 0 };
  const diskTier = { ...tier };
  const withDisk = cluster.engines.some((e) => e.diskTier);
  for (const e of cluster.engines) {
    promptBlocks += e.prefixHits.promptBlocks;
    gpu += e.prefixHits.gpu;
    host += e.prefixHits.host;
    disk += e.prefixHits.disk;
    object += e.prefixHits.object;
    if (e.hostTier) for (const k of Object.keys(tier) as (keyof typeof tier)[]) tier[k] += e.hostTier.counts[k];
    if (e.diskTier) for (const k of Object.keys(tier) as (keyof typeof tier)[]) diskTier[k] += e.diskTier.counts[k];
  }
  // The object stores are the deployment's, shared by engines: each counted once.
  const stores = [...new Set(cluster.engines.flatMap((e) => (e.cfg.objectStore ? [e.cfg.objectStore] : [])))];
  const objectCounts = { storedBlocks: 0, onboardedBlocks: 0, checkedBlocks: 0 };
  for (const s of stores) for (const k of Object.keys(objectCounts) as (keyof typeof objectCounts)[]) objectCounts[k] += s.counts[k];
  const withObject = stores.length > 0;
  const rate = (n: number) => (promptBlocks > 0 ? Math.round((n / promptBlocks) * 1e6) / 1e6 : 0);
  // The disk's keys only with a disk tier, so that runs without one write what they always did.
  return {
    promptBlocks,
    gpuHitBlocks: gpu,
    hostHitBlocks: host,
    ...(withDisk ? { diskHitBlocks: disk } : {}),
    ...(withObject ? { objectHitBlocks: object } : {}),
    missedBlocks: promptBlocks - gpu - host - disk - object,
    gpuHitRate: rate(gpu),
    hostHitRate: rate(host),
    ...(withDisk ? { diskHitRate: rate(disk) } : {}),
    ...(withObject ? { objectHitRate: rate(object) } : {}),
    hitRate: rate(gpu + host + disk + object),
    host: tier,
    ...(withDisk ? { disk: diskTier } : {}),
    ...(withObject ? { object: objectCounts } : {}),
  };
}
