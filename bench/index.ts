/**
 * `npm run bench [-- --json]`: the kernel's speed, measured with tinybench.
 *  - hold: pop the earliest event and schedule one at now + exp(1), with 1k and 100k events pending;
 *  - M/M/1 at utilisation 0.9 on the kernel and on simjs 2.0.3 in the same process, and their ratio.
 * Benchmarks are not tests: nothing here fails a build.
 */
import { Bench } from 'tinybench';
import { Simulator } from '../src/engine/index.js';
import { runMM1 } from '../src/demo/mm1.js';
import { runSimjsMM1 } from './simjs-mm1.js';

const HOLD_BATCH = 200_000;
const MM1_CUSTOMERS = 100_000;

function holdModel(pending: number): () => void {
  const sim = new Simulator('bench-hold', pending * 2);
  const rng = sim.rng('hold');
  const hold = (): void => {
    sim.schedule(rng.exponential(1), hold);
  };
  for (let i = 0; i < pending; i++) sim.schedule(rng.exponential(1), hold);
  return () => {
    sim.run({ maxEvents: HOLD_BATCH });
  };
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const bench = new Bench({ time: 1500, warmupTime: 300 });
  bench
    .add('hold 1k', holdModel(1_000))
    .add('hold 100k', holdModel(100_000))
    .add('mm1 nixlsim', () => {
      runMM1({ customers: MM1_CUSTOMERS, seed: 7 });
    })
    .add('mm1 simjs', () => {
      runSimjsMM1(MM1_CUSTOMERS, 7);
    });
  await bench.run();

  const perSecond = (name: string, perRun: number): number => {
    const task = bench.getTask(name);
    const mean = task?.result && 'latency' in task.result ? task.result.latency.mean : NaN; // ms per run
    return Math.round((perRun / mean) * 1000);
  };
  const result = {
    holdEventsPerSec1k: perSecond('hold 1k', HOLD_BATCH),
    holdEventsPerSec100k: perSecond('hold 100k', HOLD_BATCH),
    mm1CustomersPerSec: perSecond('mm1 nixlsim', MM1_CUSTOMERS),
    simjsCustomersPerSec: perSecond('mm1 simjs', MM1_CUSTOMERS),
    ratioVsSimjs: 0,
  };
  result.ratioVsSimjs = Math.round((result.mm1CustomersPerSec / result.simjsCustomersPerSec) * 100) / 100;

  if (json) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  const fmt = (n: number): string => n.toLocaleString('en-US');
  const rows: [string, string, string][] = [
    ['hold, 1k pending', `${fmt(result.holdEventsPerSec1k)} events/s`, ''],
    ['hold, 100k pending', `${fmt(result.holdEventsPerSec100k)} events/s`, 'target >= 5,000,000'],
    ['M/M/1 rho=0.9, nixlsim', `${fmt(result.mm1CustomersPerSec)} customers/s`, ''],
    ['M/M/1 rho=0.9, simjs 2.0.3', `${fmt(result.simjsCustomersPerSec)} customers/s`, ''],
    ['ratio nixlsim / simjs', `${result.ratioVsSimjs}x`, 'target >= 5'],
  ];
  for (const [a, b, c] of rows) console.log(`${a.padEnd(28)} ${b.padStart(24)}   ${c}`);
}

await main();
