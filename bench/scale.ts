/**
 * `npm run bench:scale [-- --json] [-- --sizes 100000,1000000]`: replays a million-request trace in disaggregated mode
 * (bench/scale.yaml: the Azure 2023 code trace tiled to 1M records, see bench/scale-trace.ts) and reports, per size,
 * wall time and peak RSS. Each size runs in a fresh process so its peak RSS is its own, and with V8's old generation
 * capped (--heap-mb, default 128): a simulation whose live memory grew with the request count would run out of heap
 * at 1M, and without the cap V8 merely collects later, which inflates RSS without saying anything about the model.
 * 128 MB leaves the heap guard (src/deadline.ts: 85% of the old space) room above the ~55 MB a replay holds live.
 * Targets (issue 9): 1M in under 60 s and under 1 GB on a 2-core machine. A benchmark, not a test: nothing here
 * fails a build.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readAzureRows, writeTiledTrace } from './scale-trace.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const SOURCE = resolve(root, 'traces', 'azure-llm-2023-code.csv');
const TRACE = join(root, 'reports', 'scale', 'azure-code-1m.csv');
const EXPERIMENT = join(root, 'bench', 'scale.yaml');

interface RunReport {
  records: number;
  wallS: number;
  maxRssMB: number;
  requests: Record<string, number>;
  ttftMs: { mean: number; p95: number };
  simulatedS: number;
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function main(): void {
  const json = process.argv.includes('--json');
  const sizes = (flag('--sizes') ?? '100000,1000000').split(',').map(Number);
  const heapMb = Number(flag('--heap-mb') ?? 128);
  const max = Math.max(...sizes);
  if (!existsSync(SOURCE)) {
    process.stderr.write(`bench:scale needs the Azure code trace at ${SOURCE} (traces/ in the project)\n`);
    process.exitCode = 2;
    return;
  }
  if (!json) process.stderr.write(`writing ${max} records to ${TRACE} (once) ...\n`);
  writeTiledTrace(readAzureRows(SOURCE), Math.max(max, 1_000_000), TRACE);
  const runs: RunReport[] = [];
  for (const n of sizes) {
    if (!json) process.stderr.write(`replaying ${n} records ...\n`);
    const out = execFileSync(process.execPath, [`--max-old-space-size=${heapMb}`, join(here, 'scale-run.js'), EXPERIMENT, String(n)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    runs.push(JSON.parse(out.trim()) as RunReport);
  }
  if (json) {
    process.stdout.write(JSON.stringify({ heapMb, runs }, null, 2) + '\n');
    return;
  }
  process.stdout.write(`old-generation cap ${heapMb} MB (node --max-old-space-size)\n`);
  process.stdout.write('records     wall s   peak RSS MB   requests/s (wall)   completed   in flight   TTFT mean ms   TTFT p95 ms\n');
  for (const r of runs) {
    process.stdout.write(
      `${String(r.records).padEnd(10)}  ${r.wallS.toFixed(1).padStart(6)}   ${r.maxRssMB.toFixed(0).padStart(11)}   ${(r.records / r.wallS).toFixed(0).padStart(17)}   ${String(r.requests['completed']).padStart(9)}   ${String(r.requests['inFlight']).padStart(9)}   ${r.ttftMs.mean.toFixed(1).padStart(12)}   ${r.ttftMs.p95.toFixed(1).padStart(11)}\n`,
    );
  }
}

main();
