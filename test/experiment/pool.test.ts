import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { progressWanted } from '../../src/cli/options.js';
import { runExperiment, runExperimentOnPool } from '../../src/run/run.js';
import { defaultCatalog } from '../../src/catalog/load.js';
import { FieldError, InvariantError, UserError } from '../../src/errors.js';
import { expandPoints, loadExperiment, type Point } from '../../src/experiment/index.js';
import { decodeError, encodeError, PointFailure, poolWorkerFile, SimulationPool, simulateOnPool } from '../../src/run/pool.js';
import { runPoint } from '../../src/serving/simulate.js';
import { fixture } from './helpers.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'nixlsim-pool-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const ROOT = new URL('../../', import.meta.url).pathname;
const seed = (name: string) => join(ROOT, 'experiments', 'seeds', name);

/** The breakeven seed, small: 16 points of 12 requests each. */
const small = ['workload.requests=12', 'workload.warmup=2'];

/**
 * An experiment whose points 1 and 3 fail only when they run: their fault names a worker the cluster does not have
 * (the loader cannot know the cluster's worker names; a model that does not fit, say, it finds before anything runs).
 */
function failsWhenRun(dir: string): string {
  const file = join(dir, 'fails.yaml');
  const fault = '[{ kind: worker_restart, at: [1], downtimeS: 5, target: agg-7 }]';
  writeFileSync(
    file,
    [
      'name: fails',
      'deployment:',
      '  mode: aggregated',
      '  model: llama-3.1-8b-instruct',
      '  node: p5.48xlarge',
      '  connector: any-tp',
      '  transport: efa-libfabric',
      'workload:',
      '  kind: closed-loop',
      '  concurrency: 2',
      '  requests: 4',
      '  warmup: 0',
      '  isl: { mean: 1000, stddev: 0 }',
      '  osl: { mean: 10, stddev: 0 }',
      'sweep:',
      `  faults: [[], ${fault}, [], ${fault}, []]`,
      '',
    ].join('\n'),
  );
  return file;
}

/** A stand-in worker script speaking the pool's protocol; `body` decides what each task does. */
function fakeWorker(dir: string, body: string): string {
  const file = join(dir, 'fake-worker.mjs');
  writeFileSync(
    file,
    `import { parentPort } from 'node:worker_threads';\n` +
      `const ok = (index, id) => parentPort.postMessage({ index, ok: true, outcome: { result: { id } } });\n` +
      `parentPort.on('message', async ({ index, point }) => {\n${body}\n});\n`,
  );
  return file;
}

const fakePoints = (n: number): Point[] => Array.from({ length: n }, (_, i) => ({ id: `p${String(i).padStart(3, '0')}`, params: {} }) as Point);

describe('points cross a thread boundary as plain data', () => {
  it('every point of the seed scenarios and fixtures survives JSON and structured clone unchanged', () => {
    const catalog = defaultCatalog();
    const files = [seed('breakeven.yaml'), seed('long-context.yaml'), seed('asymmetric-tp.yaml'), fixture('sweep.yaml'), fixture('full.yaml'), fixture('zip.yaml'), fixture('overrides.yaml')];
    for (const f of files) {
      const points = expandPoints(loadExperiment(f, { catalog }));
      expect(JSON.parse(JSON.stringify(points))).toEqual(points);
      expect(structuredClone(points)).toStrictEqual(points);
    }
  });

  it('errors keep their kind, message and stack', () => {
    const user = decodeError(encodeError(new UserError('does not fit', 'x.yaml:3:1')));
    expect(user).toBeInstanceOf(UserError);
    expect(user.message).toBe('x.yaml:3:1: does not fit');
    const inv = new InvariantError('broken');
    const back = decodeError(encodeError(inv));
    expect(back).toBeInstanceOf(InvariantError);
    expect(back.stack).toBe(inv.stack);
    const te = decodeError(encodeError(new TypeError('x is undefined')));
    expect([te.name, te.message, te instanceof UserError]).toEqual(['TypeError', 'x is undefined', false]);
    expect(decodeError(encodeError('a string')).message).toBe('a string');
    // A FieldError keeps its field as a path, so that the main thread can find the line that set it.
    const field = decodeError(encodeError(new FieldError(['faults', 2, 'target'], "no worker 'x'")));
    expect(field).toBeInstanceOf(FieldError);
    expect(field.message).toBe("faults[2].target: no worker 'x'");
    expect([(field as FieldError).field, (field as FieldError).problem]).toEqual([['faults', 2, 'target'], "no worker 'x'"]);
  });
});

describe('simulateOnPool', () => {
  it('gives each point the outcome runPoint gives it in this thread, in point order', async () => {
    expect(existsSync(poolWorkerFile())).toBe(true); // npm test builds dist/ first
    const catalog = defaultCatalog();
    const points = expandPoints(loadExperiment(seed('breakeven.yaml'), { catalog, set: [...small, 'sweep.workload.isl.mean=[1000,4000,8000]'] }));
    const done: number[] = [];
    const pooled = await simulateOnPool(points, { workers: 2, onDone: (d, total) => (expect(total).toBe(6), done.push(d)) });
    expect(done).toEqual([1, 2, 3, 4, 5, 6]);
    expect(pooled.map((o) => o.result.id)).toEqual(points.map((p) => p.id));
    for (const [i, p] of points.entries()) {
      const here = runPoint(p, catalog);
      expect(pooled[i]!.result).toStrictEqual(here.result);
      expect(pooled[i]!.log).toEqual({ lines: here.log.lines(), total: here.log.total, dropped: here.log.dropped });
    }
  });

  it('reports the lowest-numbered failing point, waiting for the points before it but not for those after', async () => {
    const d = tmp();
    // Point 3 fails at once; point 1 fails later; point 0 succeeds last of the first four; point 2 succeeds at once.
    // Points 4 and on never answer: the pool must not wait for them (it would time out).
    const file = fakeWorker(
      d,
      `const wait = (ms) => new Promise((r) => setTimeout(r, ms));\n` +
        `if (index === 3) return parentPort.postMessage({ index, ok: false, error: { kind: 'user', name: 'UserError', message: 'three' } });\n` +
        `if (index === 1) { await wait(150); return parentPort.postMessage({ index, ok: false, error: { kind: 'user', name: 'UserError', message: 'one' } }); }\n` +
        `if (index === 0) await wait(300);\n` +
        `if (index <= 2) ok(index, point.id);`,
    );
    let finished = 0;
    const err = await simulateOnPool(fakePoints(12), { workers: 4, workerFile: file, onDone: () => finished++ }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PointFailure);
    expect((err as PointFailure).index).toBe(1);
    expect((err as PointFailure).cause).toBeInstanceOf(UserError);
    expect(((err as PointFailure).cause as Error).message).toBe('one');
    expect(finished).toBe(2); // points 0 and 2
  });

  it('a crash inside a thread comes back as an error of its kind with the thread stack; an exiting thread fails its point', async () => {
    const d = tmp();
    const crash = fakeWorker(d, `if (index === 2) { const x = undefined; x.boom(); }\nok(index, point.id);`);
    // The fake does not catch: the thrown TypeError is an uncaught exception of the thread (the 'error' event).
    const e1 = await simulateOnPool(fakePoints(5), { workers: 2, workerFile: crash }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(PointFailure);
    expect((e1 as PointFailure).index).toBe(2);
    expect(((e1 as PointFailure).cause as Error).name).toBe('TypeError');
    expect(((e1 as PointFailure).cause as Error).stack).toContain('fake-worker.mjs');

    const d2 = tmp();
    const exiting = fakeWorker(d2, `if (index === 1) process.exit(7);\nok(index, point.id);`);
    const e2 = await simulateOnPool(fakePoints(4), { workers: 2, workerFile: exiting }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(PointFailure);
    expect(((e2 as PointFailure).cause as Error).message).toBe('a worker thread exited (code 7) while simulating point p001');
  });

  it('a missing worker script is a broken install (exit 3), not a hang', async () => {
    await expect(simulateOnPool(fakePoints(2), { workers: 2, workerFile: join(tmp(), 'nope.js') })).rejects.toThrow(InvariantError);
  });
});

describe('SimulationPool', () => {
  it('serves batch after batch on the same threads', async () => {
    const d = tmp();
    // Each answer says which thread gave it and how many tasks that thread has had so far.
    const file = fakeWorker(
      d,
      `globalThis.seen = (globalThis.seen ?? 0) + 1;\n` +
        `const { threadId } = await import('node:worker_threads');\n` +
        `parentPort.postMessage({ index, ok: true, outcome: { result: { id: point.id, thread: threadId, seen: globalThis.seen } } });`,
    );
    const pool = new SimulationPool({ workers: 2, workerFile: file });
    try {
      expect(pool.size).toBe(2);
      const first = await pool.run(fakePoints(4).map((point) => ({ point })));
      const second = await pool.run(fakePoints(6).map((point) => ({ point })));
      expect(first.map((o) => o.result.id)).toEqual(['p000', 'p001', 'p002', 'p003']);
      expect(second.map((o) => o.result.id)).toEqual(['p000', 'p001', 'p002', 'p003', 'p004', 'p005']);
      // Threads started afresh for batch 2 would be new threads whose counts start again at 1.
      const answers = [...first, ...second].map((o) => o.result as unknown as { thread: number; seen: number });
      const threads = new Set(answers.map((a) => a.thread));
      expect(threads.size).toBeLessThanOrEqual(2);
      for (const t of threads) {
        const mine = answers.filter((a) => a.thread === t).map((a) => a.seen);
        expect(mine).toEqual(mine.map((_, i) => i + 1)); // 1, 2, 3, ... across both batches
      }
      await expect(pool.run([])).resolves.toEqual([]);
    } finally {
      await pool.close();
    }
    await expect(pool.run(fakePoints(1).map((point) => ({ point })))).rejects.toThrow(/closed/);
  });

  it('runs one batch at a time, and a failed batch closes the pool', async () => {
    const d = tmp();
    const file = fakeWorker(d, `if (point.id === 'p002') return parentPort.postMessage({ index, ok: false, error: { kind: 'user', name: 'UserError', message: 'two' } });\nok(index, point.id);`);
    const pool = new SimulationPool({ workers: 2, workerFile: file });
    const busy = pool.run(fakePoints(2).map((point) => ({ point })));
    await expect(pool.run(fakePoints(1).map((point) => ({ point })))).rejects.toThrow(/one batch at a time/);
    expect((await busy).map((o) => o.result.id)).toEqual(['p000', 'p001']);
    const err = await pool.run(fakePoints(5).map((point) => ({ point }))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PointFailure);
    expect((err as PointFailure).index).toBe(2);
    await expect(pool.run(fakePoints(1).map((point) => ({ point })))).rejects.toThrow('two');
    await pool.close();
  });

  it('a run with a pool of the wrong catalog is refused', async () => {
    const pool = new SimulationPool({ workers: 1, workerFile: fakeWorker(tmp(), 'ok(index, point.id);'), catalog: { ...defaultCatalog() } });
    try {
      await expect(runExperimentOnPool(seed('breakeven.yaml'), { out: tmp(), set: small, pool })).rejects.toThrow(/another catalog/);
    } finally {
      await pool.close();
    }
  });

  it('gives the real simulator the same outcomes over two batches as threads started afresh', async () => {
    const catalog = defaultCatalog();
    const points = expandPoints(loadExperiment(seed('breakeven.yaml'), { catalog, set: [...small, 'sweep.workload.isl.mean=[1000,4000]'] }));
    const fresh = await simulateOnPool(points, { workers: 2, catalog });
    const pool = new SimulationPool({ workers: 2, catalog });
    try {
      for (let round = 0; round < 2; round++) {
        const kept = await pool.run(points.map((point) => ({ point })));
        expect(kept).toStrictEqual(fresh);
      }
    } finally {
      await pool.close();
    }
  });
});

describe('runExperimentOnPool', () => {
  it('writes byte-identical summary.json and events.log for 1, 2 and 3 workers, the same as runExperiment', async () => {
    const outs = [tmp(), tmp(), tmp(), tmp()];
    const progress: number[] = [];
    await runExperimentOnPool(seed('breakeven.yaml'), { out: outs[0]!, set: small, workers: 1, onProgress: (d) => progress.push(d) });
    await runExperimentOnPool(seed('breakeven.yaml'), { out: outs[1]!, set: small, workers: 2 });
    const r3 = await runExperimentOnPool(seed('breakeven.yaml'), { out: outs[2]!, set: small, workers: 3, json: true });
    runExperiment(seed('breakeven.yaml'), { out: outs[3]!, set: small });
    expect(progress).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    const read = (d: string, f: string) => readFileSync(join(d, f), 'utf8');
    for (const o of outs.slice(1)) {
      expect(read(o, 'summary.json')).toBe(read(outs[0]!, 'summary.json'));
      expect(read(o, 'events.log')).toBe(read(outs[0]!, 'events.log'));
    }
    expect(r3.text).toBe(read(outs[0]!, 'summary.json'));
    expect(r3.summary.points).toHaveLength(16);
  });

  it('a point that fails when it runs fails as in this thread: the first such point named, every thread stopped, nothing written', async () => {
    const d = tmp();
    const file = failsWhenRun(d);
    // Placed at the sweep value that gave point 1 its faults (line 16): sweep.faults[1], its fault [0], the target.
    const message = /fails\.yaml:16:\d+ sweep\.faults\[1\]\[0\]\.target: no worker 'agg-7' \(workers: agg-0\)$/;
    const outs = [join(d, 'w1'), join(d, 'w3'), join(d, 'here')];
    const e1 = await runExperimentOnPool(file, { out: outs[0]!, workers: 1 }).catch((e: unknown) => e);
    const e3 = await runExperimentOnPool(file, { out: outs[1]!, workers: 3 }).catch((e: unknown) => e);
    let e0: unknown;
    try {
      runExperiment(file, { out: outs[2]! });
    } catch (e) {
      e0 = e;
    }
    for (const e of [e0, e1, e3]) {
      expect(e).toBeInstanceOf(UserError);
      expect((e as Error).message).toMatch(message);
    }
    expect((e3 as Error).message).toBe((e0 as Error).message);
    for (const o of outs) expect(existsSync(o)).toBe(false);
  });
});

describe('the progress bar', () => {
  it('only on a terminal, never under CI or with --json', () => {
    expect(progressWanted(false, { isTTY: true }, {})).toBe(true);
    expect(progressWanted(false, { isTTY: true }, { CI: 'true' })).toBe(false);
    expect(progressWanted(false, { isTTY: true }, { CI: '1' })).toBe(false);
    expect(progressWanted(false, { isTTY: false }, {})).toBe(false);
    expect(progressWanted(false, {}, {})).toBe(false);
    expect(progressWanted(true, { isTTY: true }, {})).toBe(false);
  });
});
