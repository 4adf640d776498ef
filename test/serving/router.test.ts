import { describe, expect, it } from 'vitest';
import { RandomStream } from '../../src/engine/index.js';
import type { Engine } from '../../src/serving/engine.js';
import { HostKvTier } from '../../src/serving/host-tier.js';
import { KvBlockPool } from '../../src/serving/kv-pool.js';
import { Router, type NoWorker, type RouterOptions } from '../../src/serving/router.js';
import { DYNAMO_ROUTER_DEFAULTS, type RouterKind, type RouterSettings } from '../../src/spec/experiment.js';

/**
 * The router on stand-in workers: a real KV block pool (its prefix cache is what the router reads) and the engine
 * arguments the router uses. Block size 16 throughout; every cost below is worked by hand from
 *   cost = weight * (booked prefill tokens + isl - cached blocks * 16) / 16 + active blocks + new blocks.
 */
function worker(id: string, o: { cached?: string[]; total?: number; mnbt?: number } = {}): Engine {
  const pool = new KvBlockPool(o.total ?? 100_000);
  if (o.cached?.length) {
    pool.allocate(o.cached.length);
    pool.commit(o.cached);
    pool.unref(o.cached); // cached, referenced by nobody: what a finished prompt leaves
  }
  return { id, dead: false, load: 0, pool, cfg: { args: { blockSize: 16, maxNumBatchedTokens: o.mnbt ?? 8192 } } } as unknown as Engine;
}

const hashes = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

function router(kind: RouterKind, engines: Engine[], settings: Partial<RouterSettings> = {}, extra: Partial<RouterOptions> = {}): Router {
  return new Router(kind, engines, { settings: { ...DYNAMO_ROUTER_DEFAULTS, queueThreshold: null, ...settings }, rng: new RandomStream('router-test'), ...extra });
}

/** Routes a request and returns the id of the worker it went to (or why none), synchronously. */
function route(r: Router, id: string, isl: number, h?: string[]): string {
  let got = 'queued';
  r.route({ id, isl, ...(h ? { hashes: h } : {}) }, (e: Engine | null, why?: NoWorker) => {
    got = e ? e.id : `none:${why}`;
  });
  return got;
}

describe("the KV router's cost (Dynamo v1.0.0 DefaultWorkerSelector), worked by hand", () => {
  it('three workers: the cached prefix outweighs nothing else, then the load it books counts against the worker', () => {
    // w0 caches the first 4 blocks of the prompt (tree size 4), w1 nothing, w2 all 6 and 10 other blocks (tree 16).
    const h = hashes('h', 6);
    const w = [worker('w0', { cached: h.slice(0, 4) }), worker('w1'), worker('w2', { cached: [...h, ...hashes('x', 10)] })];
    const r = router('kv-aware', w);
    // R1, 100 tokens = 6 full blocks: w0 (100 - 64)/16 + 6 = 8.25; w1 100/16 + 6 = 12.25; w2 (100 - 96)/16 + 6 = 6.25.
    expect(route(r, 'r1', 100, h)).toBe('w2');
    // R2, the same prompt: w2 now (4 + 4)/16 + 6 active + 0 new (it holds all 6) = 6.5, still below w0's 8.25.
    expect(route(r, 'r2', 100, h)).toBe('w2');
    // R3, 320 new tokens (20 blocks): w0 20 + 20 = 40, w1 40, w2 (8 + 320)/16 + 6 + 20 = 46.5. w0 and w1 tie at 40:
    // the one with fewer cached blocks wins (w1: 0 against 4).
    expect(route(r, 'r3', 320, hashes('g', 20))).toBe('w1');
    expect(r.counts).toMatchObject({ routed: 3, promptBlocks: 6 + 6 + 20, cachedBlocks: 6 + 6 + 0 });
  });

  it('tier-based routing: host-tier blocks after the GPU prefix count hostCacheHitWeight of a block (0: not at all)', () => {
    // w0 holds the prompt's 6 blocks in its host tier only, w1 its first 2 in GPU memory. 100 tokens, 6 full blocks:
    // weight 0 (v1.0.0): w0 100/16 + 6 = 12.25, w1 (100 - 32)/16 + 6 = 10.25: w1. Weight 0.75: w0's credit is
    // 0.75 x 6 = 4.5 blocks, (100 - 72)/16 + 6 = 7.75: w0.
    const h = hashes('h', 6);
    const tier = new HostKvTier({ capacityBlocks: 100, storeBlockS: 0, loadBlockS: 0 });
    tier.store(h, 6, 0);
    const w0 = Object.assign(worker('w0'), { hostTier: tier });
    const w = [w0, worker('w1', { cached: h.slice(0, 2) })];
    expect(route(router('kv-aware', w), 'r1', 100, h)).toBe('w1');
    const r = router('kv-aware', w, { hostCacheHitWeight: 0.75 }, { now: () => 0 });
    expect(route(r, 'r1', 100, h)).toBe('w0');
    // What the router counts as cached stays the GPU's blocks (none on w0).
    expect(r.counts.cachedBlocks).toBe(0);
    // The same 6 blocks on w0's disk tier instead: at 0.25 the credit is 1.5 blocks, (100 - 24)/16 + 6 = 10.75, and w1
    // (10.25) keeps it; at 1, (100 - 96)/16 + 6 = 6.25: w0.
    const disk = new HostKvTier({ capacityBlocks: 100, storeBlockS: 0, loadBlockS: 0 });
    disk.store(h, 6, 0);
    const d0 = Object.assign(worker('w0'), { hostTier: new HostKvTier({ capacityBlocks: 100, storeBlockS: 0, loadBlockS: 0 }), diskTier: disk });
    const wd = [d0, worker('w1', { cached: h.slice(0, 2) })];
    expect(route(router('kv-aware', wd, { diskCacheHitWeight: 0.25 }, { now: () => 0 }), 'r1', 100, h)).toBe('w1');
    expect(route(router('kv-aware', wd, { diskCacheHitWeight: 1 }, { now: () => 0 }), 'r1', 100, h)).toBe('w0');
  });

  it('overlapScoreWeight 0 ignores the cache: every worker costs its blocks alone', () => {
    const h = hashes('h', 6);
    const w = [worker('w0', { cached: h.slice(0, 4) }), worker('w1'), worker('w2', { cached: [...h, ...hashes('x', 10)] })];
    // 0 * prefill + 6 new blocks on each: a three-way tie, to the fewest cached blocks (w1, 0).
    expect(route(router('kv-aware', w, { overlapScoreWeight: 0 }), 'r1', 100, h)).toBe('w1');
    // Weight 2: w0 2 * 2.25 + 6 = 10.5, w1 2 * 6.25 + 6 = 18.5, w2 2 * 0.25 + 6 = 6.5.
    expect(route(router('kv-aware', w, { overlapScoreWeight: 2 }), 'r1', 100, h)).toBe('w2');
  });

  it("a first token takes the request's prompt off the worker's prefill load; a free takes its blocks too", () => {
    // w0 holds one unrelated cached block (tree size 1), so that ties go to w1.
    const w = [worker('w0', { cached: ['x'] }), worker('w1')];
    const r = router('kv-aware', w);
    // A, 320 tokens: both 20 + 20 = 40, tie to w1 (0 cached blocks against 1).
    expect(route(r, 'a', 320, hashes('a', 20))).toBe('w1');
    // B, 320 tokens: w0 40, w1 (320 + 320)/16 + 20 + 20 = 80.
    expect(route(r, 'b', 320, hashes('b', 20))).toBe('w0');
    r.firstToken('b');
    // C, 160 tokens: w0 160/16 + 20 + 10 = 40 (B's prompt is computed), w1 (320 + 160)/16 + 20 + 10 = 60.
    // Without B's first token w0 would cost 60 too and the tie would go to w1.
    expect(route(r, 'c', 160, hashes('c', 10))).toBe('w0');
    r.free('a');
    // D, 160 tokens: w1 is empty again, 10 + 10 = 20; w0 (0 + 160 + 160)/16 + 30 + 10 = 60.
    expect(route(r, 'd', 160, hashes('d', 10))).toBe('w1');
    r.check('test router');
  });

  it('blocks two requests share count once, and stay while either holds them', () => {
    const w = [worker('w0', { cached: ['x'] }), worker('w1')];
    const r = router('kv-aware', w, { overlapScoreWeight: 0 });
    const h = hashes('s', 10);
    // Weight 0: blocks only. S1 to w1 (tie 10 / 10, fewer cached blocks); S2, the same prompt: w1 10 active + 0 new,
    // w0 0 + 10: tie again, to w1.
    expect(route(r, 's1', 160, h)).toBe('w1');
    expect(route(r, 's2', 160, h)).toBe('w1');
    r.free('s1');
    // S2 still holds the 10 blocks: a new prompt T costs w1 10 + 10 = 20, w0 10.
    expect(route(r, 't', 160, hashes('t', 10))).toBe('w0');
    r.check('test router');
  });

  it('the decode leg of disaggregated serving counts every prompt block as new and ignores the weight', () => {
    const h = hashes('h', 10);
    const agg = router('kv-aware', [worker('w0', { cached: h }), worker('w1')], { overlapScoreWeight: 0 });
    const dec = router('kv-aware', [worker('w0', { cached: h }), worker('w1')], { overlapScoreWeight: 5 }, { disaggregatedDecode: true });
    // First request: 10 new blocks on each; tie to w1 (0 cached blocks against 10).
    expect(route(agg, 'x1', 160, h)).toBe('w1');
    expect(route(dec, 'x1', 160, h)).toBe('w1');
    // The same prompt again: with KV reuse w1 costs 10 active + 0 new = 10 = w0's 10 (tie, w1); without it w1 costs
    // 10 + 10 = 20 and w0 10.
    expect(route(agg, 'x2', 160, h)).toBe('w1');
    expect(route(dec, 'x2', 160, h)).toBe('w0');
  });
});

describe('temperature: softmax over the costs normalised by their range', () => {
  // w0 caches the whole 10-block prompt: cost 0 + 10 = 10; w1 none: 10 + 10 = 20. Range 10.
  const h = hashes('h', 10);
  const draw = (t: number, n: number) => {
    const r = router('kv-aware', [worker('w0', { cached: h }), worker('w1')], { temperature: t });
    let w0 = 0;
    for (let i = 0; i < n; i++) {
      if (route(r, `q${i}`, 160, h) === 'w0') w0++;
      r.free(`q${i}`);
    }
    return w0 / n;
  };

  it('draws w0 with probability 1 / (1 + e^(-(20 - 10) / (10 t)))', () => {
    // t = 1: 1 / (1 + e^-1) = 0.7311; t = 0.25: 1 / (1 + e^-4) = 0.9820; t = 10: 1 / (1 + e^-0.1) = 0.5250.
    // 20,000 draws: a standard error of at most 0.0036, so 0.015 is over 4 of them.
    expect(Math.abs(draw(1, 20_000) - 0.7311)).toBeLessThan(0.015);
    expect(Math.abs(draw(0.25, 20_000) - 0.982)).toBeLessThan(0.015);
    expect(Math.abs(draw(10, 20_000) - 0.525)).toBeLessThan(0.015);
  });

  it("takes its draw from the run's stream: the first pick is w0 exactly when the stream's first number is <= 0.7311", () => {
    const u = new RandomStream('router-test').next();
    const r = router('kv-aware', [worker('w0', { cached: h }), worker('w1')], { temperature: 1 });
    expect(route(r, 'q', 160, h)).toBe(u <= 1 / (1 + Math.exp(-1)) ? 'w0' : 'w1');
  });

  it('at temperature 0 always the lowest', () => {
    expect(draw(0, 200)).toBe(1);
  });
});

describe('the queue threshold (Dynamo v1.0.0 SchedulerQueue)', () => {
  it('holds a request while every worker books more than threshold x max_num_batched_tokens of prefill, and routes it at the first token that frees room', () => {
    // max_num_batched_tokens 100, threshold 2: a worker is full above 200 prefill tokens.
    const w = [worker('w0', { cached: ['x'], mnbt: 100 }), worker('w1', { mnbt: 100 })];
    const r = router('kv-aware', w, { queueThreshold: 2 });
    // A, 250 tokens (15 full blocks): a tie at 250/16 + 15 = 30.625, to w1. w1 is full (250 > 200), w0 is not.
    expect(route(r, 'a', 250)).toBe('w1');
    // B, 250 tokens: w0 30.625, w1 500/16 + 15 + 15 = 61.25. Now both are full.
    expect(route(r, 'b', 250)).toBe('w0');
    let c = 'queued';
    r.route({ id: 'c', isl: 10 }, (e) => {
      c = e!.id;
    });
    expect(c).toBe('queued');
    expect(r.queued).toBe(1);
    // A's first token: w1 books 0 prefill tokens and takes C: w0 (250 + 10)/16 + 15 = 31.25, w1 10/16 + 15 = 15.625.
    r.firstToken('a');
    expect(c).toBe('w1');
    expect(r.queued).toBe(0);
    expect(r.counts.queued).toBe(1);
  });

  it('null: no queue, however loaded the workers', () => {
    const r = router('kv-aware', [worker('w0', { mnbt: 1 })], { queueThreshold: null });
    expect(route(r, 'a', 1000)).toBe('w0');
    expect(route(r, 'b', 1000)).toBe('w0');
  });

  it('a queued request goes on, to be refused, when no worker is left alive', () => {
    const w = [worker('w0', { mnbt: 1 })];
    const r = router('kv-aware', w, { queueThreshold: 1 });
    expect(route(r, 'a', 100)).toBe('w0');
    let b = 'queued';
    r.route({ id: 'b', isl: 100 }, (e, why) => {
      b = e ? e.id : `none:${why}`;
    });
    expect(b).toBe('queued');
    (w[0] as { dead: boolean }).dead = true;
    r.free('a');
    expect(b).toBe('none:dead');
  });
});

describe('the busy threshold and the simple modes', () => {
  it('a worker with more than the fraction of its KV blocks in use gets nothing; all busy is a 503', () => {
    const w = [worker('w0', { total: 100 }), worker('w1', { total: 100 })];
    w[0]!.pool.allocate(86); // 86 / 100 > 0.85
    const r = router('round-robin', w, { busyThreshold: 0.85 });
    expect([route(r, 'a', 10), route(r, 'b', 10)]).toEqual(['w1', 'w1']);
    w[1]!.pool.allocate(85); // exactly 0.85 is not over it
    expect(route(r, 'c', 10)).toBe('w1');
    w[1]!.pool.allocate(1);
    expect(route(r, 'd', 10)).toBe('none:busy');
    expect(r.counts.refused).toBe(1);
  });

  it('round-robin takes turns over the live workers; random draws uniformly from the run stream', () => {
    const w = [worker('w0'), worker('w1'), worker('w2')];
    (w[1] as { dead: boolean }).dead = true;
    const rr = router('round-robin', w);
    expect(['a', 'b', 'c'].map((id) => route(rr, id, 10))).toEqual(['w0', 'w2', 'w0']);
    (w[1] as { dead: boolean }).dead = false;
    const rnd = router('random', w);
    const s = new RandomStream('router-test');
    const want = Array.from({ length: 50 }, () => `w${s.int(3)}`);
    expect(Array.from({ length: 50 }, (_, i) => route(rnd, `r${i}`, 10))).toEqual(want);
    for (const e of w) (e as { dead: boolean }).dead = true;
    expect(route(rnd, 'x', 10)).toBe('none:dead');
  });

  it('least-loaded: the fewest requests on the worker, ties to the lowest index', () => {
    const w = [worker('w0'), worker('w1'), worker('w2')];
    (w[0] as { load: number }).load = 2;
    (w[1] as { load: number }).load = 1;
    (w[2] as { load: number }).load = 1;
    expect(route(router('least-loaded', w), 'a', 10)).toBe('w1');
  });
});
