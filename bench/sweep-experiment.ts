/**
 * The 200-point sweep the pool benchmarks run (bench/sweep.ts in one process, bench/e2e.ts as `nixlsim run`): the
 * breakeven scenario, Llama-3.1-8B on EFA, over 10 input lengths x 10 concurrencies x 2 modes, 6000 measured requests
 * each.
 */
export const SWEEP_EXPERIMENT = `# bench/sweep-experiment.ts: 200 points of the breakeven scenario
name: bench-sweep
seed: 2
deployment:
  mode: aggregated
  model: llama-3.1-8b-instruct
  node: p5.48xlarge
  connector: any-tp
  transport: efa-libfabric
  prefill: { workers: 1, tp: 1 }
  decode: { workers: 1, tp: 1 }
  aggregated: { workers: 1, tp: 1 }
  placement: cross-node
workload:
  kind: closed-loop
  concurrency: 10
  requests: 6000
  warmup: 10
  isl: { mean: 8000, stddev: 0 }
  osl: { mean: 50, stddev: 0 }
sweep:
  workload.isl.mean: [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000]
  workload.concurrency: [1, 2, 4, 6, 8, 10, 12, 16, 24, 32]
  deployment.mode: [aggregated, disaggregated]
`;
