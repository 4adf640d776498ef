import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultCatalog, getConnector, getGpu, getNode, getTransport } from '../../src/catalog/index.js';
import { expandPoints, loadExperiment } from '../../src/experiment/index.js';
import { kvBytesPerTokenPerRank, weightBytesPerRank } from '../../src/physics/index.js';
import { runPoint } from '../../src/serving/simulate.js';

/**
 * Random valid experiments, written as files and read by the loader like any other, never crash and keep every
 * invariant with the checks after every event. Valid is decided from the catalog's data: a TP size the model's KV
 * heads allow (all of 1, 2, 4, 8 for the catalog's models) whose weights leave room for a KV pool on the node's GPU,
 * a transport the node offers at a placement where it is not unavailable, fault targets that exist. What the model
 * lets go wrong (a build that rejects or crashes on a TP pair, EFA failing on one node, a prompt too long for a pool,
 * a handshake that never returns) must show up as counted outcomes, never as an exception.
 */
const c = defaultCatalog();
const root = mkdtempSync(join(tmpdir(), 'nixlsim-property-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const MOONCAKE = new URL('../fixtures/traces/mooncake-conversation-head.jsonl', import.meta.url).pathname;

/** (model, node, TP sizes that fit): weights per rank leave at least 1 GB for KV at vLLM's default memory settings. */
const fits = [...c.llms.values()].flatMap((llm) =>
  [...c.nodes.values()].map((node) => {
    const gpu = getGpu(c, node.gpu);
    const tps = [1, 2, 4, 8].filter((tp) => gpu.hbmBytes * 0.9 - weightBytesPerRank(llm, tp) - 4e9 >= 1e9 + 16 * kvBytesPerTokenPerRank(llm, tp));
    return { model: llm.id, node: node.id, tps };
  }),
).filter((f) => f.tps.length > 0);

/** Transports the node offers, with the placements at which each is not unavailable. */
function transportsOf(nodeId: string): { transport: string; placements: string[]; striped: boolean }[] {
  return getNode(c, nodeId).transports.map((id) => {
    const t = getTransport(c, id);
    return { transport: id, placements: t.placements.filter((p) => p.outcome !== 'unavailable').map((p) => p.placement), striped: t.striped };
  }).filter((t) => t.placements.length > 0);
}

const lengths = fc.record({ mean: fc.integer({ min: 16, max: 4000 }), spread: fc.double({ min: 0, max: 0.4, noNaN: true }) }).map(({ mean, spread }) => ({ mean, stddev: Math.round(mean * spread) }));
const outputs = fc.record({ mean: fc.integer({ min: 1, max: 64 }), stddev: fc.integer({ min: 0, max: 10 }) });

const workload = fc.oneof(
  fc.record({ kind: fc.constant('closed-loop'), concurrency: fc.integer({ min: 1, max: 6 }), requests: fc.integer({ min: 1, max: 30 }), warmup: fc.integer({ min: 0, max: 3 }), isl: lengths, osl: outputs }),
  fc.record({ kind: fc.constant('poisson'), rate: fc.double({ min: 0.5, max: 20, noNaN: true }), requests: fc.integer({ min: 1, max: 30 }), isl: lengths, osl: outputs }),
  fc.record({ kind: fc.constant('trace'), requests: fc.constant(0), trace: fc.record({ format: fc.constant('mooncake'), path: fc.constant(MOONCAKE), speedup: fc.constantFrom(1, 4, 20), limit: fc.integer({ min: 1, max: 30 }) }) }),
);

const expiry = fc.option(
  fc.oneof(
    fc.record({ kind: fc.constant('abort-timeout'), timeoutS: fc.double({ min: 0.05, max: 600, noNaN: true }) }),
    fc.record({ kind: fc.constant('lease'), leaseS: fc.double({ min: 0.5, max: 60, noNaN: true }), fraction: fc.double({ min: 0.1, max: 0.9, noNaN: true }), extendS: fc.double({ min: 0.1, max: 60, noNaN: true }) })
      .map(({ leaseS, fraction, extendS }) => ({ kind: 'lease', leaseS, heartbeatS: leaseS * fraction, extendS })),
  ),
  { nil: undefined },
);

/** Faults whose targets name this deployment's workers and links. */
function faults(workers: string[], links: string[]) {
  const when = fc.oneof(
    fc.record({ rate: fc.double({ min: 0.01, max: 2, noNaN: true }) }),
    fc.record({ at: fc.array(fc.double({ min: 0, max: 30, noNaN: true }), { minLength: 1, maxLength: 3 }) }),
  );
  const instant = (kind: string, targets: string[]) =>
    fc.tuple(fc.oneof(when, fc.record({ probability: fc.double({ min: 0, max: 0.3, noNaN: true }) })), fc.option(fc.constantFrom(...targets), { nil: undefined })).map(([w, target]) => ({
      kind,
      ...w,
      ...(target !== undefined && !('probability' in w && target !== 'frontend' && kind === 'health_503') ? { target } : {}),
    }));
  const kinds = [instant('connection_reset', workers), instant('health_503', [...workers, 'frontend']), fc.tuple(when, fc.double({ min: 0.01, max: 5, noNaN: true }), fc.constantFrom(...workers)).map(([w, downtimeS, target]) => ({ kind: 'worker_restart', ...w, downtimeS, target }))];
  if (links.length > 0) {
    kinds.push(fc.tuple(when, fc.double({ min: 0.01, max: 5, noNaN: true }), fc.constantFrom(...links)).map(([w, durationS, target]) => ({ kind: 'link_down', ...w, durationS, target })));
  }
  return fc.array(fc.oneof(...kinds), { maxLength: 4 });
}

const group = (tps: number[]) => fc.record({ workers: fc.integer({ min: 1, max: 2 }), tp: fc.constantFrom(...tps) });

/** A valid experiment file's contents. */
const experimentArb = fc
  .record({ fit: fc.constantFrom(...fits), mode: fc.constantFrom('disaggregated', 'aggregated'), seed: fc.integer({ min: 0, max: 1_000_000 }) })
  .chain(({ fit, mode, seed }) => {
    const ts = transportsOf(fit.node);
    return fc
      .record({ t: fc.constantFrom(...ts), prefill: group(fit.tps), decode: group(fit.tps), aggregated: group(fit.tps) })
      .chain(({ t, prefill, decode, aggregated }) => {
        const engines =
          mode === 'aggregated'
            ? Array.from({ length: aggregated.workers }, (_, i) => ({ id: `agg-${i}`, tp: aggregated.tp }))
            : [...Array.from({ length: prefill.workers }, (_, i) => ({ id: `prefill-${i}`, tp: prefill.tp })), ...Array.from({ length: decode.workers }, (_, i) => ({ id: `decode-${i}`, tp: decode.tp }))];
        const workers = engines.map((e) => e.id);
        const links = mode === 'aggregated' ? [] : engines.flatMap((e) => (t.striped ? Array.from({ length: e.tp }, (_, r) => `${e.id}.rank${r}.nic`) : [`${e.id}.host`]));
        return fc.record({
          name: fc.constant('prop'),
          seed: fc.constant(seed),
          deployment: fc.record({
            mode: fc.constant(mode),
            model: fc.constant(fit.model),
            node: fc.constant(fit.node),
            connector: fc.constantFrom(...c.connectors.keys()),
            transport: fc.constant(t.transport),
            placement: fc.constantFrom(...t.placements),
            prefill: fc.constant(prefill),
            decode: fc.constant(decode),
            aggregated: fc.constant(aggregated),
            router: fc.constantFrom('round-robin', 'least-loaded', 'kv-aware'),
            failurePolicy: fc.constantFrom('fallback', 'fail', 'retry'),
            expiry,
            kvLoadTimeoutS: fc.option(fc.oneof(fc.constant(null), fc.double({ min: 0.05, max: 200, noNaN: true })), { nil: undefined }),
          }),
          workload,
          faults: faults(workers, links),
          horizonS: fc.constantFrom(5, 30, 120, 600),
        });
      });
  })
  .map((e) => JSON.parse(JSON.stringify(e)) as Record<string, unknown>); // drop the undefined options

/**
 * Whether the model may leave a request waiting for ever: a build whose handshake has no receive timeout (equal-tp,
 * decode-wider-tp) or a decode that never gives up on a load (kvLoadTimeoutS null, or unset with a lease).
 */
function waitsForEver(e: Record<string, unknown>): boolean {
  const d = e['deployment'] as { connector: string; kvLoadTimeoutS?: number | null; expiry?: { kind: string } };
  const profile = getConnector(c, d.connector);
  const lease = (d.expiry ?? profile.expiry).kind === 'lease';
  return profile.handshake.timeoutS === null || d.kvLoadTimeoutS === null || (d.kvLoadTimeoutS === undefined && lease);
}

let files = 0;
function simulate(e: Record<string, unknown>) {
  const file = join(root, `e${files++}.json`);
  writeFileSync(file, JSON.stringify(e, null, 1));
  const points = expandPoints(loadExperiment(file, { catalog: c }));
  expect(points).toHaveLength(1);
  return runPoint(points[0]!, c, { checkInvariants: 'every-event' });
}

/**
 * The same experiments with the prefix-reuse features on top (issue #28): shared prefix prompts and multi-turn
 * sessions (not for traces), host and disk KV tiers, tier-based routing, conditional disaggregation, a prewarmed start.
 */
const reuseArb = experimentArb.chain((e) =>
  fc
    .record({
      prefixPrompts: fc.option(fc.record({ count: fc.integer({ min: 1, max: 3 }), tokens: fc.integer({ min: 16, max: 2000 }) }), { nil: undefined }),
      sessions: fc.option(
        fc.record({ turns: fc.record({ mean: fc.integer({ min: 1, max: 4 }), stddev: fc.integer({ min: 0, max: 2 }) }), delayS: fc.record({ mean: fc.double({ min: 0, max: 3, noNaN: true }), stddev: fc.constant(0) }) }),
        { nil: undefined },
      ),
      kvOffload: fc.option(
        fc.record({
          hostBytes: fc.constantFrom(0, 2e9, 50e9),
          disk: fc.option(fc.record({ bytes: fc.constantFrom(1e9, 1e11), readBytesPerS: fc.constantFrom(2e9, 7e9), writeBytesPerS: fc.constantFrom(1e9, 3.5e9), filter: fc.boolean() }), { nil: undefined }),
        }),
        { nil: undefined },
      ),
      routerConfig: fc.option(fc.record({ hostCacheHitWeight: fc.constantFrom(0, 0.75), diskCacheHitWeight: fc.constantFrom(0, 0.25) }), { nil: undefined }),
      conditionalDisagg: fc.option(fc.record({ maxLocalPrefillLength: fc.integer({ min: 0, max: 3000 }), maxPrefillQueueSize: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }) }), { nil: undefined }),
      prewarmed: fc.boolean(),
    })
    .map((x) => {
      const w = { ...(e['workload'] as Record<string, unknown>) };
      if (w['kind'] !== 'trace') {
        if (x.prefixPrompts) w['prefixPrompts'] = x.prefixPrompts;
        if (x.sessions) w['sessions'] = x.sessions;
      }
      const d: Record<string, unknown> = { ...(e['deployment'] as Record<string, unknown>), prewarmed: x.prewarmed };
      if (x.kvOffload) {
        // A disk tier needs a host tier above it.
        const k = x.kvOffload.disk && x.kvOffload.hostBytes === 0 ? { ...x.kvOffload, hostBytes: 2e9 } : x.kvOffload;
        d['engine'] = { kvOffload: k };
      }
      if (x.routerConfig) d['routerConfig'] = x.routerConfig;
      if (x.conditionalDisagg) d['conditionalDisagg'] = x.conditionalDisagg;
      return JSON.parse(JSON.stringify({ ...e, deployment: d, workload: w })) as Record<string, unknown>;
    }),
);

describe('random valid experiments', () => {
  it('never crash, keep every invariant after every event, and their request counts add up', () => {
    fc.assert(
      fc.property(experimentArb, (e) => {
        const { result: r, audit: a } = simulate(e);
        const ev = (k: string) => r.events[k] ?? 0;
        const w = e['workload'] as { kind: string; requests: number; warmup?: number; trace?: { limit: number } };
        // The measured requests: never more than asked for; each completed, failed or in flight.
        const asked = w.kind === 'trace' ? w.trace!.limit : w.requests;
        expect(r.requests.total).toBeLessThanOrEqual(asked);
        expect(r.requests.completed + r.requests.failed + r.requests.inFlight).toBe(r.requests.total);
        expect(r.requests.fellBack + r.requests.stale).toBeLessThanOrEqual(2 * (r.requests.completed + r.requests.failed));
        // All requests, warm-up included, in the ledger: the same partition, and every failure has a cause.
        const q = a.requests;
        expect(q.sent).toBe(q.completed + q.failed + q.inFlight);
        expect(q.sent).toBeGreaterThanOrEqual(r.requests.total);
        expect(Object.values(q.failedBy).reduce((s, x) => s + x, 0)).toBe(q.failed);
        expect(ev('request_failed')).toBe(q.failed);
        expect(ev('fell_back')).toBeGreaterThanOrEqual(q.fellBack);
        // Loads: each ends once; each kv_transfer_failed line is a retry or a final transfer failure.
        const l = a.loads;
        expect(l.ok + l.stale + l['failed:transfer'] + l['failed:handshake'] + l['failed:engine-dead'] + l['failed:restart']).toBeLessThanOrEqual(l.started);
        expect(ev('kv_transfer_failed')).toBe(a.retries + l['failed:transfer']);
        expect(ev('connection_reset')).toBeLessThanOrEqual(a.faults.connection_reset);
        // Nothing is left waiting with nothing left to happen, unless the deployment models a wait without end.
        if (q.inFlight > 0 && a.pendingEvents === 0) expect(waitsForEver(e)).toBe(true);
      }),
      { numRuns: 60, seed: 20260709, endOnFailure: true },
    );
  });

  it('with prefix prompts, sessions, KV tiers, tier-based routing and conditional disaggregation: the same invariants, and every turn is a request', () => {
    fc.assert(
      fc.property(reuseArb, (e) => {
        const { result: r, audit: a } = simulate(e);
        const w = e['workload'] as { kind: string; requests: number; trace?: { limit: number } };
        expect(r.requests.total).toBeLessThanOrEqual(w.kind === 'trace' ? w.trace!.limit : w.requests);
        expect(r.requests.completed + r.requests.failed + r.requests.inFlight).toBe(r.requests.total);
        const q = a.requests;
        expect(q.sent).toBe(q.completed + q.failed + q.inFlight);
        // Prefix-cache books: hits never exceed the prompt blocks looked up.
        const pc = r.prefixCache;
        if (pc) {
          expect(pc.gpuHitBlocks + pc.hostHitBlocks + (pc.diskHitBlocks ?? 0) + pc.missedBlocks).toBe(pc.promptBlocks);
          expect(pc.missedBlocks).toBeGreaterThanOrEqual(0);
        }
        const cd = r.conditionalDisagg;
        if (cd) expect(cd.localPrefills + cd.remotePrefills).toBeLessThanOrEqual(q.sent);
        if (q.inFlight > 0 && a.pendingEvents === 0) expect(waitsForEver(e)).toBe(true);
      }),
      { numRuns: 60, seed: 20261208, endOnFailure: true },
    );
  });
});
