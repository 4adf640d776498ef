import type { NodeSpec, TransportSpec } from '../spec/catalog.js';
import { removeAt } from '../engine/index.js';
import { InvariantError } from '../errors.js';
import type { EventLog } from '../metrics/event-log.js';
import type { Flow, Link, Network } from '../network/index.js';
import { hostLinkCap, railBandwidth, railsFor, type BandwidthChoice } from '../physics/index.js';

/**
 * The links KV reads cross, built from a transport and the nodes the engines sit on. With a striped (GPUDirect RDMA)
 * transport each rank owns an even share of the rails its worker stripes over (railsFor, by the backend's rule), so a
 * rank's reads go out on its own link; with a
 * host path (TCP, staging) one link serves the whole engine. Staged transports are also capped by the host link
 * (PCIe) they cross on both sides. A link can be taken down (a fault): reads crossing it fail at once and new ones
 * fail until it comes back.
 */
export interface FabricEngine {
  engineId: string;
  tp: number;
  node: NodeSpec;
  /** Host link bandwidth of the node's GPUs, bytes/s per direction. */
  hostLinkBandwidth: number;
  /**
   * GPUs of the worker on the node that share its NIC rails with this engine's (a data-parallel rank of a worker
   * spanning the node); unset: the engine's own tp.
   */
  nodeGpus?: number;
}

export interface ReadSpec {
  path: Link[];
  bytes: number;
  latencyS: number;
  /** The fastest the read may move, bytes/s (its descriptor posting); none: the path alone limits it. */
  rateCap?: number;
  onDone: () => void;
  /** Called instead of onDone when a link on the path goes down; `reason` is the backend's error text. */
  onFail: (reason: string) => void;
}

interface LiveRead {
  flow: Flow;
  spec: ReadSpec;
}

/**
 * When the backend logs the k-th EAGAIN line of a READ it keeps retrying (k = 1, 2, ...): after attempts 1..k x every,
 * the delay before attempt n being min(base x (1 + floor(n / 10)), max). Seconds from the READ's post.
 */
export function eagainLogTimes(retry: NonNullable<TransportSpec['eagainRetry']>, until: number): number[] {
  const out: number[] = [];
  let t = 0;
  for (let n = 1; t <= until && out.length < 100_000; n++) {
    t += Math.min(retry.baseDelayS * (1 + Math.floor(n / 10)), retry.maxDelayS);
    if (n % retry.logEveryAttempts === 0 && t <= until) out.push(t);
  }
  return out;
}

export class KvFabric {
  private readonly links = new Map<string, Link[]>();
  private readonly down = new Set<string>();
  /**
   * Reads in flight, by increasing flow id. An array rather than a Map: a Map emptied and refilled read by read
   * reallocates its table again and again, in the old generation once the Map lives there.
   */
  private readonly reads: LiveRead[] = [];
  /** Set when the placement hangs the transport (EFA on one node): reads never finish and log the backend's retries. */
  private stalled: { log: EventLog; untilS: number; logTimes: number[] } | null = null;
  /** NIC rails behind each striped link (a rank's share of its worker's rails), for the EAGAIN lines. */
  private readonly railsOf = new Map<Link, number>();

  constructor(
    readonly net: Network,
    readonly transport: TransportSpec,
    /** The catalog's min / typical / max per-rail figure, or one in bytes/s (Monte Carlo samples, sensitivity). */
    readonly bandwidth: BandwidthChoice = 'typical',
  ) {}

  /** Creates the engine's links: `<engine>.rank<r>.nic` for striped transports, `<engine>.host` otherwise. */
  addEngine(e: FabricEngine): void {
    if (this.links.has(e.engineId)) return;
    const perRail = railBandwidth(this.transport, e.node, this.bandwidth);
    const cap = (bw: number) => hostLinkCap(this.transport, bw, e.hostLinkBandwidth);
    const links: Link[] = [];
    if (this.transport.striped) {
      // The worker's rails (the backend's rule) shared evenly by its ranks.
      const gpus = e.nodeGpus ?? e.tp;
      const rails = railsFor(this.transport, e.node, gpus) / gpus;
      for (let r = 0; r < e.tp; r++) {
        const link = this.net.addLink(`${e.engineId}.rank${r}.nic`, cap(perRail * rails));
        this.railsOf.set(link, Math.max(1, Math.round(rails)));
        links.push(link);
      }
    } else {
      links.push(this.net.addLink(`${e.engineId}.host`, cap(perRail)));
    }
    this.links.set(e.engineId, links);
  }

  /** The links a read from prefill rank p to decode rank d crosses: the prefill side's, then the decode side's. */
  path(prefillEngine: string, p: number, decodeEngine: string, d: number): Link[] {
    const pl = this.links.get(prefillEngine);
    const dl = this.links.get(decodeEngine);
    if (!pl || !dl) throw new Error(`fabric: engine ${pl ? decodeEngine : prefillEngine} was never added`);
    return [pl[Math.min(p, pl.length - 1)]!, dl[Math.min(d, dl.length - 1)]!];
  }

  /** Ids of every link, for fault targets. */
  linkIds(): string[] {
    return [...this.links.values()].flat().map((l) => l.id);
  }

  private failText(linkId: string): string {
    return `getXferStatus: backend '${this.transport.backend}' returned error status (link ${linkId} down)`;
  }

  /**
   * The transport sets up between these workers but its READs never complete (EFA between two workers of one node:
   * every fi_read returns EAGAIN and the backend retries for ever). Each READ then logs the backend's retry line on
   * each of its rails at the times the backend's schedule gives (`eagainRetry`), for at most `untilS` seconds, until
   * its requester gives up and cancels it.
   */
  stall(log: EventLog, untilS: number): void {
    if (!this.transport.eagainRetry) throw new InvariantError(`transport '${this.transport.id}' has no eagainRetry schedule to stall with`);
    this.stalled = { log, untilS, logTimes: eagainLogTimes(this.transport.eagainRetry, untilS) };
  }

  /** Starts a read; if a link on its path is down it fails after its latency, as a posted transfer would. */
  startRead(spec: ReadSpec): Flow | null {
    if (this.stalled) return this.startStalled(spec, this.stalled);
    const broken = this.down.size > 0 ? spec.path.find((l) => this.down.has(l.id)) : undefined;
    if (broken) {
      this.net.sim.schedule(spec.latencyS, () => spec.onFail(this.failText(broken.id)));
      return null;
    }
    const flow = this.net.startFlow({
      path: spec.path,
      bytes: spec.bytes,
      latencyS: spec.latencyS,
      ...(spec.rateCap !== undefined ? { rateCap: spec.rateCap } : {}),
      onDone: (f) => {
        this.forget(f);
        spec.onDone();
      },
    });
    this.reads.push({ flow, spec }); // the newest flow: the order holds
    return flow;
  }

  /**
   * A READ that never moves a byte: a flow capped so low that it cannot finish within the stall (its requester cancels
   * it, or the run ends), plus its retry lines, each checked against the flow still being live.
   */
  private startStalled(spec: ReadSpec, stall: NonNullable<KvFabric['stalled']>): Flow {
    const retry = this.transport.eagainRetry!;
    const sim = this.net.sim;
    const flow = this.net.startFlow({ path: spec.path, bytes: spec.bytes, latencyS: spec.latencyS, rateCap: spec.bytes / (stall.untilS * 1e6 + 1) });
    this.reads.push({ flow, spec });
    const decodeLink = spec.path[spec.path.length - 1]!;
    const rails = this.railsOf.get(decodeLink) ?? 1;
    for (const [k, t] of stall.logTimes.entries()) {
      sim.schedule(spec.latencyS + t, () => {
        if (this.indexOf(flow) < 0) return; // given up: cancelled
        const attempts = (k + 1) * retry.logEveryAttempts;
        for (let rail = 0; rail < rails; rail++) {
          stall.log.emit('eagain_retry', { time: sim.now, component: decodeLink.id, line: retry.line.replace('{rail}', String(rail)).replace('{attempts}', String(attempts)) });
        }
      });
    }
    return flow;
  }

  /** Abandons a read (its requester gave up); no callback runs. */
  cancelRead(flow: Flow | null): void {
    if (flow && this.forget(flow)) this.net.cancelFlow(flow);
  }

  /** Position of a read in flight by its flow, or -1. */
  private indexOf(flow: Flow): number {
    const reads = this.reads;
    let lo = 0;
    let hi = reads.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (reads[mid]!.flow.id < flow.id) lo = mid + 1;
      else hi = mid;
    }
    return reads[lo]?.flow === flow ? lo : -1;
  }

  /** Drops a read from those in flight; false if it was not there. */
  private forget(flow: Flow): boolean {
    const at = this.indexOf(flow);
    if (at < 0) return false;
    removeAt(this.reads, at);
    return true;
  }

  /** Takes a link down or brings it back. Going down fails every read crossing it, in flow id order. */
  setLinkState(linkId: string, up: boolean): void {
    if (up) {
      this.down.delete(linkId);
      return;
    }
    this.down.add(linkId);
    this.failReads((l) => l.id === linkId, this.failText(linkId));
  }

  /**
   * An engine's worker restarted: its registered memory is gone, so every read from or to its ranks fails (in flow id
   * order) with the backend's error. Its links stay up.
   */
  failReadsOf(engineId: string): void {
    const own = new Set(this.links.get(engineId) ?? []);
    if (own.size === 0) return;
    // nixlsim's wording: the text NIXL prints for a transfer to a vanished remote agent varies by backend.
    this.failReads((l) => own.has(l), `getXferStatus: backend '${this.transport.backend}' returned error status (remote agent ${engineId} gone: worker restarted)`);
  }

  private failReads(crosses: (l: Link) => boolean, reason: string): void {
    const hit = this.reads.filter((r) => r.spec.path.some(crosses));
    for (const r of hit) {
      // An earlier callback in this loop may have cancelled this read (its load gave up): then it is not failed again.
      if (!this.forget(r.flow)) continue;
      this.net.cancelFlow(r.flow);
      r.spec.onFail(reason);
    }
  }
}
