/**
 * One scale-benchmark run in a process of its own, so that its peak RSS is its own: loads the experiment, replays
 * the first `limit` records of its trace, and prints one JSON line: records, wall seconds, peak RSS, the point's
 * request counts and TTFT. Used by bench/scale.ts; not a command.
 */
import { performance } from 'node:perf_hooks';
import { defaultCatalog } from '../src/catalog/load.js';
import { expandPoints, loadExperiment } from '../src/experiment/load.js';
import { runPoint } from '../src/serving/simulate.js';

const [file, limit] = process.argv.slice(2);
if (!file || !limit) throw new Error('usage: scale-run <experiment> <limit>');
const catalog = defaultCatalog();
const loaded = loadExperiment(file, { catalog, set: [`workload.trace.limit=${limit}`] });
const [point] = expandPoints(loaded);
const t0 = performance.now();
const { result } = runPoint(point!, catalog);
const wallS = (performance.now() - t0) / 1000;
const maxRssMB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(
  JSON.stringify({ records: Number(limit), wallS, maxRssMB, requests: result.requests, ttftMs: result.ttftMs, simulatedS: result.durationS }) + '\n',
);
