import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaultCatalog, getConnector, getLlm, getNode } from '../../src/catalog/index.js';
import { Simulator } from '../../src/engine/index.js';
import { InvariantError } from '../../src/errors.js';
import { EventLog } from '../../src/metrics/event-log.js';
import { Network } from '../../src/network/index.js';
import { DecodeConnector, KvFabric, PrefillConnector, type LoadResult } from '../../src/nixl/index.js';
import { KvBlockPool } from '../../src/serving/kv-pool.js';
import { runPoint, TEST_CORRUPT_ENV, type InvariantMode } from '../../src/serving/simulate.js';
import { nixlsimInProcess } from '../helpers/cli.js';
import { plainTransport } from '../helpers/fixtures.js';
import { experiment, point } from './helpers.js';

const c = defaultCatalog();
const node = getNode(c, 'dgx-h100');
const run = (e: ReturnType<typeof experiment>, mode: InvariantMode = 'every-event') => runPoint(point(e), c, { checkInvariants: mode });

/** The InvariantError `f` throws. */
function violation(f: () => unknown): InvariantError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(InvariantError);
    return err as InvariantError;
  }
  throw new Error('no invariant violated');
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('the kernel in debug mode', () => {
  it('calls the check after every event, with the event time, and runs the same events as the normal loop', () => {
    const model = (sim: Simulator, seen: number[]) => {
      const rng = sim.rng('x');
      const hold = (k: number) => {
        seen.push(sim.now);
        if (k < 50) sim.schedule(rng.exponential(1), hold, k + 1);
      };
      for (let i = 0; i < 5; i++) sim.schedule(rng.exponential(1), hold, 0);
    };
    const plain: number[] = [];
    const a = new Simulator(3);
    model(a, plain);
    a.run({ until: 20 });
    const checked: number[] = [];
    const times: number[] = [];
    const b = new Simulator(3);
    model(b, checked);
    b.checkEveryEvent((t) => times.push(t));
    b.run({ until: 20 });
    expect(checked).toEqual(plain);
    expect(times).toEqual(plain); // one check per event, at its time
    expect([b.now, b.eventsRun]).toEqual([a.now, a.eventsRun]);
  });

  it('catches a clock going back (an event slipped into the queue in the past) and names both times', () => {
    const sim = new Simulator();
    sim.at(1.5, () => undefined);
    (sim as unknown as { clock: number }).clock = 2; // as a bug that moved the clock past a pending event would
    sim.checkEveryEvent(() => undefined);
    expect(violation(() => sim.run()).message).toBe('the clock never goes back: the next event is at t=1.5 s but the clock reads t=2 s');
  });
});

describe('request accounting', () => {
  // Connected from the start, so that the first request ends within a second (no first-contact handshake).
  const small = experiment({ deployment: { prewarmed: true }, workload: { requests: 6, concurrency: 2 } });

  it('a request reported ended twice is a violation naming the point, the time and the request', () => {
    vi.stubEnv(TEST_CORRUPT_ENV, 'double-end');
    const err = violation(() => run(small, 'end'));
    expect(err.message).toMatch(/^point p000, t=0\.\d+ s: every request ends exactly once: request \S+ \(completed\) ended again at t=0\.\d+ s/);
  });

  it('a request that ended without being counted breaks total = completed + failed + inFlight, with the numbers', () => {
    vi.stubEnv(TEST_CORRUPT_ENV, 'lose-end');
    const err = violation(() => run(small, 'end'));
    expect(err.message).toBe(
      'point p000, t=86400 s: every measured request ends completed or failed, or is in flight: summary says 6 sent, 5 completed, 0 failed, ' +
        '1 in flight (0 fell back, 0 stale); the ledger has 0 measured requests in flight',
    );
  });

  it('a leaked KV block is found at the end of a normal run, and at the event that leaked it in debug mode', () => {
    vi.stubEnv(TEST_CORRUPT_ENV, 'leak-block');
    const atEnd = violation(() => run(small, 'end'));
    expect(atEnd.message).toMatch(/^point p000, t=86400 s: KV blocks are owned by exactly the sequences holding them: decode-0's pool says (\d+) owned/);
    const early = violation(() => run(small, 'every-event'));
    const t = Number(/t=([\d.]+) s/.exec(early.message)![1]);
    expect(t).toBeLessThan(1); // the first request ends within a second; the run's horizon is 86400 s
    expect(early.message).toContain("decode-0's pool says");
  });

  it('a fallen-back request is counted once among completed or failed, and also in fellBack', () => {
    // Every read fails on a link that is down for the whole run, so every request falls back and completes.
    const e = experiment({
      workload: { requests: 5, concurrency: 2 },
      faults: [{ kind: 'link_down', at: [0], durationS: 1e6, target: 'decode-0.rank0.nic' }],
    });
    const { result, audit } = run(e);
    expect(result.requests).toEqual({ total: 5, completed: 5, failed: 0, fellBack: 5, inFlight: 0, stale: 0 });
    expect(audit.requests).toMatchObject({ sent: 5, completed: 5, failed: 0, inFlight: 0, fellBack: 5 });
    expect(result.events.fell_back).toBe(5);
  });
});

describe('pools, queues, flows and connector counts never go negative', () => {
  it('a KV pool with negative books is reported with its numbers', () => {
    const pool = new KvBlockPool(10);
    (pool as unknown as { owned: number }).owned = -1;
    expect(violation(() => pool.check('decode-3 pool')).message).toBe('no pool goes negative or over capacity: decode-3 pool has owned -1, cached 0 (idle 0), total 10 blocks');
  });

  it('a flow with negative remaining bytes beyond rounding is reported', () => {
    const sim = new Simulator();
    const net = new Network(sim);
    const link = net.addLink('l', 1e9);
    const flow = net.startFlow({ path: [link], bytes: 1e6, tag: 'kv' });
    sim.run({ until: 0 });
    net.check();
    (flow as unknown as { rem: number }).rem = -5;
    expect(violation(() => net.check()).message).toMatch(/^no flow goes negative: flow 0 \(kv\) of 1000000 B has -5 B remaining \(tolerance 1 B\)/);
  });

  it('prefill notified more often than decode announced is a violation, not a silent early free', () => {
    const sim = new Simulator();
    const llm = getLlm(c, 'llama-3.1-8b-instruct');
    const p = new PrefillConnector(sim, new EventLog(), { engineId: 'prefill-0', llm, profile: getConnector(c, 'any-tp'), tp: 2, blockSize: 16, numBlocks: 100 });
    const params = p.finishRequest('r', 100);
    p.expectReads(params, [1, 1]);
    p.notify(params, 0);
    expect(violation(() => p.notify(params, 0)).message).toBe('no count goes negative: prefill prefill-0 rank 0 notified for request r more often than decode announced (0, 1 pending per rank)');
  });
});

function pair(model: string, prefillTp: number, decodeTp: number, maxRetries = 0) {
  const sim = new Simulator(1);
  const net = new Network(sim);
  const log = new EventLog();
  const transport = plainTransport(10e9, true);
  const fabric = new KvFabric(net, transport);
  const llm = getLlm(c, model);
  // Registered at once (no descriptor preparation): these tests time the READs, not the first contact.
  const base = getConnector(c, 'any-tp');
  const profile = { ...base, handshake: { ...base.handshake, prepPerDescriptorS: 0 } };
  fabric.addEngine({ engineId: 'prefill-0', tp: prefillTp, node, hostLinkBandwidth: 64e9 });
  fabric.addEngine({ engineId: 'decode-0', tp: decodeTp, node, hostLinkBandwidth: 64e9 });
  const prefill = new PrefillConnector(sim, log, { engineId: 'prefill-0', llm, profile, tp: prefillTp, blockSize: 16, numBlocks: 100_000 });
  const decode = new DecodeConnector(sim, log, { engineId: 'decode-0', llm, profile, tp: decodeTp, blockSize: 16, numBlocks: 100_000 }, fabric, transport, {
    sideChannelLatencyS: 0,
    maxRetries,
  });
  const results: LoadResult[] = [];
  const load = (id: string, tokens: number) => decode.load(prefill, prefill.finishRequest(id, tokens), (r) => results.push(r));
  return { sim, net, log, fabric, prefill, decode, results, load };
}

describe('bytes read by decode ranks equal the bytes the prefill ranks held', () => {
  // 2000 tokens = 125 blocks of 16 = 2000 token slots.
  // GQA 70B: 327,680 B/token (2 x 80 layers x 8 heads x 128 x 2 B): 655,360,000 B of distinct KV.
  // MLA DeepSeek-V3: 70,272 B/token (61 layers x (512 + 64) x 2 B), identical on every rank: 140,544,000 B distinct.
  const cases: [string, number, number, number, number][] = [
    // model, prefill TP, decode TP, distinct bytes, wire bytes (every decode rank's reads)
    ['llama-3.1-70b-instruct-fp8', 4, 1, 655_360_000, 655_360_000], // one decode rank reads a quarter from each of 4
    ['llama-3.1-70b-instruct-fp8', 1, 4, 655_360_000, 655_360_000], // four decode ranks each read a quarter of one
    ['llama-3.1-70b-instruct-fp8', 8, 8, 655_360_000, 655_360_000],
    ['deepseek-v3', 2, 4, 140_544_000, 4 * 140_544_000], // each decode rank reads the whole latent once
    ['deepseek-v3', 8, 2, 140_544_000, 2 * 140_544_000],
  ];
  for (const [model, pTp, dTp, distinct, wire] of cases) {
    it(`${model} TP${pTp} -> TP${dTp}: ${distinct} B distinct on both sides, ${wire} B on the wire`, () => {
      const env = pair(model, pTp, dTp);
      env.load('r0', 2000);
      env.load('r1', 2000);
      env.sim.checkEveryEvent(() => {
        env.net.check();
        env.prefill.check();
        env.decode.check();
      });
      env.sim.run();
      expect(env.results.map((r) => r.status)).toEqual(['ok', 'ok']);
      expect(env.decode.kvContentRead).toBe(2 * distinct);
      expect(env.prefill.kvContentServed).toBe(2 * distinct);
      expect(env.decode.bytesRead).toBe(2 * wire);
      expect(env.prefill.holding).toBe(0);
    });
  }

  it('a READ asking a prefill rank for more than it registered is a violation', () => {
    const env = pair('llama-3.1-70b-instruct-fp8', 2, 2);
    // The prefill agents now claim half the memory they really registered.
    for (const a of env.prefill.agents) {
      const real = a.bytesFor.bind(a);
      a.bytesFor = (blocks: number) => real(blocks) / 2;
    }
    env.load('r', 2000);
    expect(violation(() => env.sim.run()).message).toBe(
      'a READ takes no more than its prefill rank registered: request r (prefill-0 TP2 -> decode-0 TP2), rank 0 held 163840000 B, a READ took 327680000 B',
    );
  });

  it('a decode rank that holds more than it read is a violation naming both sides', () => {
    const env = pair('llama-3.1-8b-instruct', 1, 1);
    const a = env.decode.agents[0]!;
    const real = a.bytesFor.bind(a);
    a.bytesFor = (blocks: number) => real(blocks) * 2;
    env.load('r', 160);
    // 160 tokens = 10 blocks = 160 slots x 131,072 B = 20,971,520 B read; the corrupted agent needs twice that.
    expect(violation(() => env.sim.run()).message).toBe(
      'each decode rank reads what it holds: request r (prefill-0 TP1 -> decode-0 TP1), decode rank 0 read 20971520 B, needs 41943040 B for 160 token slots',
    );
  });
});

describe('failed transfers: retries and restarts', () => {
  it('a retry re-issues only the READs that did not arrive: no double notification, no byte read twice', () => {
    // 70B TP2 -> TP2, 2000 tokens: each decode rank reads 327,680,000 B over its own 10 GB/s rail: 32.768 ms alone.
    const env = pair('llama-3.1-70b-instruct-fp8', 2, 2, 1);
    // Another flow shares rank 1's decode rail, halving that READ's rate: rank 0 finishes at 32.8 ms, rank 1 later.
    const rail1 = env.net.link('decode-0.rank1.nic')!;
    env.net.startFlow({ path: [rail1], bytes: 1e12 });
    env.load('r', 2000);
    // At 40 ms the READ from prefill rank 1 fails (its agent errors out); the blocks are still held, so it is retried.
    env.sim.at(0.04, () => env.fabric.failReadsOf('prefill-0'));
    env.sim.checkEveryEvent(() => env.prefill.check());
    env.sim.run({ until: 10 });
    expect(env.results.map((r) => r.status)).toEqual(['ok']);
    expect(env.decode.retries).toBe(1);
    expect(env.log.count('kv_transfer_failed')).toBe(1);
    expect(env.prefill.holding).toBe(0); // freed by the retried READ's notification, not before
    // Rank 0's rail carried its 327,680,000 B once: it was not read again by the retry.
    expect(env.net.link('decode-0.rank0.nic')!.bytesCarried).toBeCloseTo(327_680_000, 0);
    expect(env.decode.kvContentRead).toBe(655_360_000);
  });

  it('a prefill worker restart fails the READs in flight from it and its held blocks are gone: the request falls back', () => {
    // 8B, 1000 tokens over TCP: 63 blocks x 16 x 131,072 B = 132,120,576 B at 100 MB/s take ~1.3 s after a 26.7 ms
    // prefill (1.4222e13 FLOPs / (989e12 x 0.789) + 8.46 ms of step overhead): the restart at 0.5 s is mid-read.
    const e = experiment({
      deployment: { node: 'dgx-h100', transport: 'tcp' },
      workload: { requests: 1 },
      faults: [{ kind: 'worker_restart', at: [0.5], downtimeS: 0.5, target: 'prefill-0' }],
    });
    const { result, log, audit } = run(e);
    expect(result.requests).toMatchObject({ total: 1, completed: 1, failed: 0, fellBack: 1, inFlight: 0 });
    expect(audit.loads).toMatchObject({ started: 1, ok: 0, 'failed:transfer': 1 });
    expect(log.lines().some((l) => l.includes('remote agent prefill-0 gone: worker restarted'))).toBe(true);
    // Under failurePolicy fail the same restart fails the request instead.
    const failed = run(experiment({ ...e, deployment: { ...e.deployment, failurePolicy: 'fail' }, workload: e.workload, faults: e.faults }));
    expect(failed.result.requests).toMatchObject({ completed: 0, failed: 1 });
    expect(failed.audit.requests.failedBy.kv_transfer).toBe(1);
  });

  it('a restarted worker comes back empty and serves again, even when it died in the middle of a step', () => {
    // Two aggregated workers, round-robin, 2 users: r0 on agg-0, r1 on agg-1. agg-0 restarts at 50 ms, in the middle of
    // a step of r0's (a 26.7 ms prefill, then decode steps of 14.9 ms: (16.06e9 + ~1025 x 131,072) B / (3.35e12 x 0.75)
    // + 8.46 ms; the second runs from 41.6 to 56.5 ms), and is down for 1 s: r0 fails; the next requests go to agg-1
    // until agg-0 is back, and afterwards to both. Every other request completes and none is left in flight.
    const e = experiment({
      deployment: { mode: 'aggregated', aggregated: { workers: 2, tp: 1 } },
      workload: { requests: 40, concurrency: 2, osl: { mean: 50, stddev: 0 } },
      faults: [{ kind: 'worker_restart', at: [0.05], downtimeS: 1, target: 'agg-0' }],
    });
    const { result, audit } = run(e);
    expect(result.requests).toMatchObject({ total: 40, completed: 39, failed: 1, inFlight: 0 });
    expect(audit.requests.failedBy.worker_restart).toBe(1);
    // agg-0 worked after its restart: busy for more than ten times the 50 ms before it. Utilisation is over the served
    // window (0 to the last request's end = durationS here: no warm-up, the first request sent at 0), not the horizon.
    expect(result.utilisation.workers['agg-0']! * result.durationS).toBeGreaterThan(0.5);
  });
});

describe('a violation exits 3 with its report', () => {
  const BIN = new URL('../../bin/nixlsim.js', import.meta.url).pathname;
  const ROOT = new URL('../../', import.meta.url).pathname;
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  /** The binary, as a child process. */
  const cli = (args: string[], env: Record<string, string>) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true', ...env } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  /** The same command line in this process, as the binary runs it. */
  const inProcess = (args: string[], env: Record<string, string>) => nixlsimInProcess(args, { env });

  it('from the command line, in this thread and on worker threads, writing nothing', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'nixlsim-inv-')), 'out');
    dirs.push(join(out, '..'));
    const args = ['run', 'test/fixtures/experiments/minimal.yaml', '--out', out, '--set', 'workload.requests=4', '--set', 'sweep.workload.concurrency=[1, 2]'];
    for (const workers of ['1', '2']) {
      const r = cli([...args, '--workers', workers], { [TEST_CORRUPT_ENV]: 'double-end' });
      expect(r.code).toBe(3);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^nixlsim: internal invariant violated \(a bug in nixlsim, not in your input; please report it\):\n/);
      expect(r.stderr).toMatch(/InvariantError: point p000, t=[\d.]+ s: every request ends exactly once: request \S+ \(completed\) ended again/);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('--debug-invariants (hidden) checks after every event: the leak is reported when it happens, not at the horizon', async () => {
    const out = mkdtempSync(join(tmpdir(), 'nixlsim-inv-'));
    dirs.push(out);
    const args = ['run', 'test/fixtures/experiments/minimal.yaml', '--out', join(out, 'x'), '--set', 'workload.requests=4', '--workers', '1'];
    const end = await inProcess(args, { [TEST_CORRUPT_ENV]: 'leak-block' });
    expect(end.code).toBe(3);
    expect(end.stderr).toMatch(/point p000, t=86400 s: KV blocks are owned by exactly the sequences holding them/);
    const every = await inProcess([...args, '--debug-invariants'], { [TEST_CORRUPT_ENV]: 'leak-block' });
    expect(every.code).toBe(3);
    expect(every.stderr).toMatch(/point p000, t=[0-9]\.\d+ s: KV blocks are owned by exactly the sequences holding them/);
    expect((await inProcess(args, {})).code).toBe(0);
  });
});
