import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

export function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'nixlsim-bands-'));
  dirs.push(d);
  return d;
}

/** Writes an experiment (a plain object) as JSON into a fresh directory and returns the file. */
export function experimentFile(exp: Record<string, unknown>): string {
  const file = join(tmp(), `${String(exp['name'])}.json`);
  writeFileSync(file, `${JSON.stringify(exp, null, 2)}\n`);
  return file;
}

/**
 * Llama-3.1-8B, one TP1 prefill and one TP1 decode worker on p5.48xlarge nodes, KV over TCP, one request at a time
 * (the first, a warm-up, pays the handshake): the KV transfer is the whole story of TTFT at long prompts.
 */
export function tcpExperiment(isl: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'tcp-bound',
    seed: 7,
    deployment: {
      mode: 'disaggregated',
      model: 'llama-3.1-8b-instruct',
      node: 'p5.48xlarge',
      connector: 'any-tp',
      transport: 'tcp',
      placement: 'cross-node',
    },
    workload: { kind: 'closed-loop', concurrency: 1, requests: 2, warmup: 1, isl: { mean: isl, stddev: 0 }, osl: { mean: 4, stddev: 0 } },
    ...extra,
  };
}

/** The same model served aggregated by one TP1 worker, one request at a time: TTFT is one prefill step. */
export function aggregatedExperiment(isl: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'compute-bound',
    seed: 3,
    deployment: { mode: 'aggregated', model: 'llama-3.1-8b-instruct', node: 'p5.48xlarge', connector: 'any-tp', transport: 'efa-libfabric' },
    workload: { kind: 'closed-loop', concurrency: 1, requests: 3, warmup: 0, isl: { mean: isl, stddev: 0 }, osl: { mean: 4, stddev: 0 } },
    ...extra,
  };
}
