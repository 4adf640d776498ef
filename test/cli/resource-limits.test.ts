/**
 * The resource contract (docs/limits.md): requests in flight and the heap are bounded, and a run that would pass a
 * bound stops with exit 2 naming what to change, never with V8's abort (exit 134, a native stack) or a hang.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'nixlsim-limits-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the heap guard', () => {
  it('stops a run that outgrows the heap Node allows with exit 2 and the knobs, not a V8 abort', () => {
    // 200,000 clients at once hold ~2 KB each: ~400 MB, four times what a 100 MB old space holds.
    const file = join(root, 'crowd.yaml');
    writeFileSync(
      file,
      [
        'name: crowd',
        'deployment: { mode: aggregated, model: llama-3.1-8b-instruct, node: p5.48xlarge, connector: any-tp, transport: efa-libfabric }',
        'workload: { kind: closed-loop, concurrency: 200000, requests: 400000, isl: { mean: 100 }, osl: { mean: 10 } }',
        '',
      ].join('\n'),
    );
    const out = join(root, 'out');
    const r = spawnSync(process.execPath, ['--max-old-space-size=100', join(ROOT, 'bin', 'nixlsim.js'), 'run', file, '--out', out, '--workers', '1'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^nixlsim: error: .*crowd\.yaml: point p000: the simulation holds \d+ MB of the \d+ MB heap Node allows this process: lower the requests in flight \(workload\.concurrency, workload\.rate\).*--max-old-space-size=<MB>\n$/);
    expect(existsSync(out)).toBe(false);
  });
});
