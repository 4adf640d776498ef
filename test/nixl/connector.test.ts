import { describe, expect, it } from 'vitest';
import { defaultCatalog, getConnector, getLlm, getNode } from '../../src/catalog/index.js';
import type { ConnectorProfile, TransportSpec } from '../../src/spec/catalog.js';
import { Simulator } from '../../src/engine/index.js';
import { FaultInjector } from '../../src/faults/injector.js';
import { EventLog } from '../../src/metrics/event-log.js';
import { Network } from '../../src/network/index.js';
import { DecodeConnector, KvFabric, PrefillConnector, type LoadResult } from '../../src/nixl/index.js';
import { plainTransport } from '../helpers/fixtures.js';

const c = defaultCatalog();
const m8 = getLlm(c, 'llama-3.1-8b-instruct');
const m70 = getLlm(c, 'llama-3.1-70b-instruct-fp8');
const node = getNode(c, 'dgx-h100');

function setup(opts: {
  profile: ConnectorProfile;
  transport: TransportSpec;
  prefillTp?: number;
  decodeTp?: number;
  llm?: typeof m8;
  maxRetries?: number;
  seed?: number;
}) {
  const sim = new Simulator(opts.seed ?? 1);
  const net = new Network(sim);
  const log = new EventLog();
  const fabric = new KvFabric(net, opts.transport);
  const llm = opts.llm ?? m8;
  const pTp = opts.prefillTp ?? 1;
  const dTp = opts.decodeTp ?? 1;
  fabric.addEngine({ engineId: 'prefill-0', tp: pTp, node, hostLinkBandwidth: 64e9 });
  fabric.addEngine({ engineId: 'decode-0', tp: dTp, node, hostLinkBandwidth: 64e9 });
  const prefill = new PrefillConnector(sim, log, { engineId: 'prefill-0', llm, profile: opts.profile, tp: pTp, blockSize: 16, numBlocks: 10_000 });
  const decode = new DecodeConnector(sim, log, { engineId: 'decode-0', llm, profile: opts.profile, tp: dTp, blockSize: 16, numBlocks: 10_000 }, fabric, opts.transport, {
    sideChannelLatencyS: 0,
    maxRetries: opts.maxRetries ?? 0,
  });
  return { sim, net, log, fabric, prefill, decode };
}

const withTimeout = (id: string, timeoutS: number): ConnectorProfile => ({ ...getConnector(c, id), expiry: { kind: 'abort-timeout', timeoutS } });

describe('expiry under a 120 s abort timeout', () => {
  // 8B: 131,072 B/token; 1000 tokens = 62.5 -> 63 blocks = 1008 slots = 132,120,576 B. At 132,120,576 B/s: 1 s exactly.
  const bytes = 1008 * 131_072;
  const transport = plainTransport(bytes);

  // The first read from prefill-0 waits for the handshake's descriptor preparation: 10,000 blocks x 64 descriptors
  // (32 layers x K, V) x 0.225 us = 0.144 s.
  const prep = 10_000 * 64 * 0.225e-6;

  function readFinishingAt(t: number) {
    const env = setup({ profile: withTimeout('any-tp', 120), transport });
    const results: LoadResult[] = [];
    const params = env.prefill.finishRequest('req-1', 1000); // prefill done at t = 0: the clock starts
    env.sim.at(t - 1 - prep, () => env.decode.load(env.prefill, params, (r) => results.push(r)));
    env.sim.run();
    return { ...env, result: results[0]! };
  }

  it('a read finishing at 119 s succeeds and frees the blocks; nothing expires', () => {
    const { result, log, prefill } = readFinishingAt(119);
    expect(result.status).toBe('ok');
    expect(result.status === 'ok' && result.finishedAt).toBeCloseTo(119, 9);
    expect(log.count('kv_blocks_expired')).toBe(0);
    expect(prefill.holding).toBe(0);
  });

  it('a read finishing at 121 s is a stale read, after one kv_blocks_expired line per prefill rank at 120 s', () => {
    const { result, log } = readFinishingAt(121);
    expect(result.status).toBe('stale');
    expect(log.count('kv_blocks_expired')).toBe(1); // TP1 prefill: one rank
    expect(log.count('stale_kv_read')).toBe(1);
    expect(log.lines()[0]).toContain(
      'Releasing expired KV blocks for request req-1 which were retrieved by 0 decode worker(s) within 120 seconds.',
    );
    expect(log.lines()[0]).toMatch(/^\[\s+120\.000000s\] WARN/);
  });

  it('a TP8 prefill logs the expiry once per rank (8 lines)', () => {
    const env = setup({ profile: withTimeout('any-tp', 120), transport, prefillTp: 8, decodeTp: 8, llm: m70 });
    env.prefill.finishRequest('req-9', 1000);
    env.sim.run();
    expect(env.log.count('kv_blocks_expired')).toBe(8);
    expect(new Set(env.log.lines().map((l) => l.split(' ').find((w) => w.startsWith('prefill-0.rank'))))).toHaveProperty('size', 8);
  });
});

describe('lease builds (any-tp-hardened)', () => {
  it('decode heartbeats keep a 300 s transfer alive past the 30 s lease; without them it would expire', () => {
    // 1008 slots x 131,072 B at 1/300 of that per second: 300 s.
    const transport = plainTransport((1008 * 131_072) / 300);
    const env = setup({ profile: getConnector(c, 'any-tp-hardened'), transport });
    let result: LoadResult | undefined;
    const params = env.prefill.finishRequest('r', 1000);
    env.decode.load(env.prefill, params, (r) => (result = r));
    env.sim.run();
    expect(result?.status).toBe('ok');
    expect(env.log.count('kv_blocks_expired')).toBe(0);
  });

  it('an unread request expires when its 30 s lease runs out', () => {
    const env = setup({ profile: getConnector(c, 'any-tp-hardened'), transport: plainTransport(1e9) });
    env.prefill.finishRequest('r', 1000);
    env.sim.run();
    expect(env.log.count('kv_blocks_expired')).toBe(1);
    expect(env.log.lines()[0]).toMatch(/^\[\s+30\.000000s\].*before lease expired\.$/);
  });
});

describe('heterogeneous TP through the simulated handshake', () => {
  const transport = plainTransport(10e9, true);

  it('seed 003 on decode-wider-tp: prefill TP4 -> decode TP1 kills the decode engine at the first transfer', () => {
    const env = setup({ profile: getConnector(c, 'decode-wider-tp'), transport, prefillTp: 4, decodeTp: 1, llm: m70 });
    const results: LoadResult[] = [];
    for (let i = 0; i < 3; i++) env.decode.load(env.prefill, env.prefill.finishRequest(`r${i}`, 2000), (r) => results.push(r));
    env.sim.run({ until: 10 });
    expect(env.log.count('handshake_failed')).toBe(1);
    expect(env.log.count('engine_dead')).toBe(1);
    expect(env.decode.dead).toBe(true);
    expect(results.map((r) => r.status === 'failed' && r.reason)).toEqual(['engine-dead', 'engine-dead', 'engine-dead']);
    expect(env.decode.remoteBlockSize.has('prefill-0')).toBe(false); // never registered
    // Later requests fail at once.
    env.decode.load(env.prefill, env.prefill.finishRequest('late', 2000), (r) => results.push(r));
    env.sim.run({ until: 20 });
    expect(results[3]?.status === 'failed' && results[3].reason).toBe('engine-dead');
  });

  it('the same pair on any-tp serves every request with 4 READs each and frees prefill blocks', () => {
    const env = setup({ profile: getConnector(c, 'any-tp'), transport, prefillTp: 4, decodeTp: 1, llm: m70 });
    const results: LoadResult[] = [];
    for (let i = 0; i < 3; i++) env.decode.load(env.prefill, env.prefill.finishRequest(`r${i}`, 2000), (r) => results.push(r));
    env.sim.run();
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    expect(env.log.count('handshake_failed')).toBe(0);
    expect(env.decode.remoteBlockSize.get('prefill-0')).toBe(16);
    expect(env.prefill.holding).toBe(0);
    // Bytes read by decode equal bytes the prefill ranks held: 3 x 2000 x 327,680 B.
    expect(env.decode.bytesRead).toBe(3 * 2000 * 327_680);
    expect(env.prefill.bytesHeldForReads).toBe(3 * 2000 * 327_680);
  });

  it('equal-tp rejects 1 -> 4 at the handshake: the requests fail, the engine lives and serves an equal-TP peer', () => {
    const env = setup({ profile: getConnector(c, 'equal-tp'), transport, prefillTp: 1, decodeTp: 4, llm: m70 });
    let r: LoadResult | undefined;
    env.decode.load(env.prefill, env.prefill.finishRequest('r', 2000), (x) => (r = x));
    env.sim.run({ until: 5 });
    expect(r?.status === 'failed' && r.reason).toBe('handshake');
    expect(env.decode.dead).toBe(false);
    expect(env.log.count('handshake_failed')).toBe(1);
  });

  it('handshakes run one at a time: loads from the same unknown engine wait for the one handshake', () => {
    const env = setup({ profile: getConnector(c, 'any-tp'), transport, prefillTp: 2, decodeTp: 2, llm: m70 });
    const done: number[] = [];
    for (let i = 0; i < 5; i++) env.decode.load(env.prefill, env.prefill.finishRequest(`r${i}`, 160), () => done.push(i));
    env.sim.run();
    expect(done).toHaveLength(5);
    expect(env.log.count('handshake_failed')).toBe(0);
  });

  it('a prefill worker that does not answer: any-tp times out after 5 s and kills the engine; hardened fails only the request', () => {
    for (const [id, dead] of [['any-tp', true], ['any-tp-hardened', false]] as const) {
      const env = setup({ profile: getConnector(c, id), transport, prefillTp: 1, decodeTp: 1 });
      env.prefill.alive = false;
      let r: LoadResult | undefined;
      env.decode.load(env.prefill, env.prefill.finishRequest('r', 160), (x) => (r = x));
      env.sim.run({ until: 6 });
      expect(r?.status, id).toBe('failed');
      expect(r?.finishedAt, id).toBe(5);
      expect(env.decode.dead, id).toBe(dead);
    }
  });
});

describe('first contact: the handshake prepares the remote descriptor lists (add_remote_agent)', () => {
  const noPrep = (p: ConnectorProfile): ConnectorProfile => ({ ...p, handshake: { ...p.handshake, prepPerDescriptorS: 0 } });

  /** When each of `starts` loads of 1000 tokens from one prefill engine finishes. */
  function finishes(profile: ConnectorProfile, transport: TransportSpec, starts: number[], opts: { prefillTp?: number; decodeTp?: number; llm?: typeof m8; restartAt?: number } = {}) {
    const env = setup({ profile, transport, ...opts });
    const at: number[] = [];
    starts.forEach((t, i) => env.sim.at(t, () => env.decode.load(env.prefill, env.prefill.finishRequest(`r${i}`, 1000), (r) => (at[i] = r.status === 'ok' ? r.finishedAt : NaN))));
    if (opts.restartAt !== undefined) env.sim.at(opts.restartAt, () => env.prefill.restart());
    env.sim.run();
    return at;
  }

  it("the first request's KV waits for the set-up, the second's does not (Llama-3.1-8B, TP1 to TP1)", () => {
    // 1000 tokens = 63 blocks = 1008 slots x 131,072 B, read at that many bytes a second: 1 s. The handshake prepares
    // prefill-0's whole pool: 10,000 blocks x 64 descriptors (32 layers x K, V) = 640,000 x 0.225 us = 0.144 s.
    const transport = plainTransport(1008 * 131_072);
    const [first, second] = finishes(getConnector(c, 'any-tp'), transport, [0, 2]);
    expect(first).toBeCloseTo(0.144 + 1, 9);
    expect(second).toBeCloseTo(2 + 1, 9);
  });

  it('loads queued behind the handshake wait for it too, and a restarted prefill worker is prepared again', () => {
    const transport = plainTransport(1008 * 131_072);
    // Two loads at t = 0 share the 1 s of bandwidth after the 0.144 s set-up: 0.144 + 2 = 2.144 s each. The prefill
    // worker restarts at 3 s; a load at 4 s handshakes again: 4 + 0.144 + 1 = 5.144 s.
    const at = finishes(getConnector(c, 'any-tp'), transport, [0, 0, 4], { restartAt: 3 });
    expect(at[0]).toBeCloseTo(2.144, 9);
    expect(at[1]).toBeCloseTo(2.144, 9);
    expect(at[2]).toBeCloseTo(5.144, 9);
  });

  it('a decode rank prepares one list per prefill rank it reads; decode ranks prepare side by side', () => {
    const transport = plainTransport(10e9, true);
    const cases = [
      // Prefill TP4 -> decode TP1: the one decode rank prepares 4 lists of 10,000 blocks x 160 descriptors (80 layers x
      // K, V): 4 x 1.6M x 0.225 us = 1.44 s.
      { prefillTp: 4, decodeTp: 1, prep: 4 * 10_000 * 160 * 0.225e-6 },
      // Prefill TP1 -> decode TP2: each decode rank one list of the prefill rank's 10,000 blocks, in parallel: 0.36 s.
      { prefillTp: 1, decodeTp: 2, prep: 10_000 * 160 * 0.225e-6 },
    ];
    for (const { prefillTp, decodeTp, prep } of cases) {
      const opts = { prefillTp, decodeTp, llm: m70 };
      const [withPrep] = finishes(getConnector(c, 'any-tp'), transport, [0], opts);
      const [without] = finishes(noPrep(getConnector(c, 'any-tp')), transport, [0], opts);
      expect(withPrep! - without!, `P TP${prefillTp} -> D TP${decodeTp}`).toBeCloseTo(prep, 9);
    }
  });

  it('a rejected handshake prepares nothing: equal-tp refuses 1 -> 4 after the side channel alone', () => {
    const env = setup({ profile: getConnector(c, 'equal-tp'), transport: plainTransport(10e9, true), prefillTp: 1, decodeTp: 4, llm: m70 });
    let r: LoadResult | undefined;
    env.decode.load(env.prefill, env.prefill.finishRequest('r', 2000), (x) => (r = x));
    env.sim.run();
    expect(r?.status === 'failed' && r.finishedAt).toBe(0); // side-channel latency 0 in these tests, no preparation
  });
});

describe('faults on the rails', () => {
  function stormRun(seed: number) {
    // 8B TP1 -> TP1 over a 100 MB/s host path: 8000 tokens = 1,048,576,000 B = 10.49 s per transfer alone.
    const transport = plainTransport(100e6);
    const env = setup({ profile: withTimeout('any-tp', 120), transport, maxRetries: 2, seed });
    const inj = new FaultInjector(env.sim, [{ kind: 'link_down', rate: 0.05, durationS: 2, target: 'decode-0.host' }], { until: 600 });
    inj.on('link_down', (f) => {
      env.fabric.setLinkState(f.target!, f.phase === 'up');
      env.log.emit(f.phase === 'up' ? 'link_up' : 'link_down', { time: env.sim.now, component: f.target!, line: `link ${f.phase}` });
    });
    inj.start();
    const results: LoadResult[] = [];
    for (let i = 0; i < 40; i++) {
      env.sim.at(i * 15, () => env.decode.load(env.prefill, env.prefill.finishRequest(`r${i}`, 8000), (r) => results.push(r)));
    }
    env.sim.run();
    return { log: env.log.counts(), injected: inj.counts().link_down, statuses: results.map((r) => r.status) };
  }

  it('a seeded storm gives the same counts twice, accounts for every request, and logs every outage', () => {
    const a = stormRun(7);
    const b = stormRun(7);
    expect(b).toEqual(a);
    expect(a.statuses).toHaveLength(40); // every load ends exactly once
    expect(a.log.link_down).toBe(a.injected);
    expect(a.log.link_up).toBe(a.injected);
    // About 0.05/s x 600 s = 30 outages; with 2 s of every 15 s busy... some reads must have been hit and retried.
    expect(a.injected).toBeGreaterThan(15);
    expect(a.log.kv_transfer_failed).toBeGreaterThan(0);
    // Retries up to 2: a load fails only after 3 attempts, so failures are at most a third of the transfer failures.
    const failed = a.statuses.filter((s) => s === 'failed').length;
    expect(failed * 3).toBeLessThanOrEqual(a.log.kv_transfer_failed);
    expect(stormRun(8)).not.toEqual(a);
  });
});
