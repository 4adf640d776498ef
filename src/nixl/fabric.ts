import type { NodeSpec, TransportSpec } from '../catalog/types.js';
import type { Flow, Link, Network } from '../network/index.js';
import { perRailBandwidth, railsFor, type BandwidthChoice } from '../physics/index.js';

/**
 * The links KV reads cross, built from a transport and the nodes the engines sit on. With a striped (GPUDirect RDMA)
 * transport each rank owns its GPU's share of the node's NIC rails, so a rank's reads go out on its own link; with a
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
}

export interface ReadSpec {
  path: Link[];
  bytes: number;
  latencyS: number;
  onDone: () => void;
  /** Called instead of onDone when a link on the path goes down; `reason` is the backend's error text. */
  onFail: (reason: string) => void;
}

interface LiveRead {
  flow: Flow;
  spec: ReadSpec;
}

export class KvFabric {
  private readonly links = new Map<string, Link[]>();
  private readonly down = new Set<string>();
  private readonly reads = new Map<number, LiveRead>();

  constructor(
    readonly net: Network,
    readonly transport: TransportSpec,
    /** The catalog's min / typical / max per-rail figure, or one in bytes/s (Monte Carlo samples, sensitivity). */
    readonly bandwidth: BandwidthChoice = 'typical',
  ) {}

  /** Creates the engine's links: `<engine>.rank<r>.nic` for striped transports, `<engine>.host` otherwise. */
  addEngine(e: FabricEngine): void {
    if (this.links.has(e.engineId)) return;
    const perRail = perRailBandwidth(this.transport, this.bandwidth);
    const cap = (bw: number) => (this.transport.gpuDirect ? bw : Math.min(bw, e.hostLinkBandwidth));
    const links: Link[] = [];
    if (this.transport.striped) {
      const rails = railsFor(this.transport, e.node, 1);
      for (let r = 0; r < e.tp; r++) links.push(this.net.addLink(`${e.engineId}.rank${r}.nic`, cap(perRail * rails)));
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

  /** Starts a read; if a link on its path is down it fails after its latency, as a posted transfer would. */
  startRead(spec: ReadSpec): Flow | null {
    const broken = this.down.size > 0 ? spec.path.find((l) => this.down.has(l.id)) : undefined;
    if (broken) {
      this.net.sim.schedule(spec.latencyS, () => spec.onFail(this.failText(broken.id)));
      return null;
    }
    const flow = this.net.startFlow({
      path: spec.path,
      bytes: spec.bytes,
      latencyS: spec.latencyS,
      onDone: (f) => {
        this.reads.delete(f.id);
        spec.onDone();
      },
    });
    this.reads.set(flow.id, { flow, spec });
    return flow;
  }

  /** Abandons a read (its requester gave up); no callback runs. */
  cancelRead(flow: Flow | null): void {
    if (!flow) return;
    if (this.reads.delete(flow.id)) this.net.cancelFlow(flow);
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
    const hit = [...this.reads.values()].filter((r) => r.spec.path.some(crosses));
    for (const r of hit) {
      // An earlier callback in this loop may have cancelled this read (its load gave up): then it is not failed again.
      if (!this.reads.delete(r.flow.id)) continue;
      this.net.cancelFlow(r.flow);
      r.spec.onFail(reason);
    }
  }
}
