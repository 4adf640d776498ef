import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';

/** Deployment files for audit and calibrate tests: the committed example and variants written here. */
const dir = mkdtempSync(join(tmpdir(), 'nixlsim-audit-'));

const P5 = `
seed: 2
deployment:
  mode: disaggregated
  model: llama-3.1-8b-instruct
  node: p5.48xlarge
  connector: any-tp
  transport: efa-libfabric
  prefill: { workers: 1, tp: 1 }
  decode: { workers: 1, tp: 1 }
  aggregated: { workers: 1, tp: 1 }
  placement: cross-node
workload: { kind: closed-loop, isl: { mean: 1000 }, osl: { mean: 50 } }
`;

const FILES: Record<string, string> = {
  'p5-disaggregated.yaml': P5,
  'p5-aggregated.yaml': P5.replace('mode: disaggregated', 'mode: aggregated'),
  // Seed 000's deployment: the 70B model, TP8 to TP8, ib-rdma, a build with vLLM's 120 s abort timeout.
  'long-context.yaml': `
seed: 0
deployment:
  mode: disaggregated
  model: deepseek-r1-distill-llama-70b
  node: dgx-h100
  connector: decode-wider-tp
  transport: ib-rdma
  prefill: { workers: 1, tp: 8 }
  decode: { workers: 1, tp: 8 }
  placement: cross-node
  engine: { gpuMemoryUtilization: 0.8, enforceEager: true }
  failurePolicy: fallback
workload: { kind: closed-loop, isl: { mean: 1000 }, osl: { mean: 100 } }
`,
};
for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir, name), text);

export const fixture = (name: string): string => join(dir, name);
export const write = (name: string, text: string): string => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
export const committedExample = join(ROOT, 'experiments/measurements/example.csv');
export const committedDeployment = join(ROOT, 'experiments/measurements/p5-disaggregated.yaml');
