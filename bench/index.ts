/**
 * `npm run bench [-- --json]`: the kernel's speed, measured with tinybench.
 *  - hold: pop the earliest event and schedule one at now + exp(1), with 1k and 100k events pending. The handler is
 *    a registered callback (Simulator.register), the kernel's fastest kind of event when many are pending; the table
 *    also shows hold at 100k with a plain function, the kind of event that carries an argument;
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
    sim.schedule(rng.exponential(1), tick);
  };
  const tick = sim.register(hold);
  for (let i = 0; i < pending; i++) sim.schedule(rng.exponential(1), tick);
  return () => {
    sim.run({ maxEvents: HOLD_BATCH });
  };
}

/**
 * hold with the handler passed as a function, as events with an argument are (their callback is in a slot table). A
 * function of its own rather than a flag on holdModel: closures of one function literal share V8's type feedback, and
 * the two kinds of handler behind one call site would slow both (docs/performance.md).
 */
function holdPlainModel(pending: number): () => void {
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
  // Last, and only for the table: its events take the other path through run(), which would change what V8 makes of
  // the loop for the tasks after it.
  if (!json) bench.add('hold 100k plain', holdPlainModel(100_000));
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
  const plain100k = perSecond('hold 100k plain', HOLD_BATCH);
  const fmt = (n: number): string => n.toLocaleString('en-US');
  const rows: [string, string, string][] = [
    ['hold, 1k pending', `${fmt(result.holdEventsPerSec1k)} events/s`, ''],
    ['hold, 100k pending', `${fmt(result.holdEventsPerSec100k)} events/s`, 'target >= 5,000,000'],
    ['  same, handler a function', `${fmt(plain100k)} events/s`, ''],
    ['M/M/1 rho=0.9, nixlsim', `${fmt(result.mm1CustomersPerSec)} customers/s`, ''],
    ['M/M/1 rho=0.9, simjs 2.0.3', `${fmt(result.simjsCustomersPerSec)} customers/s`, ''],
    ['ratio nixlsim / simjs', `${result.ratioVsSimjs}x`, 'target >= 5'],
  ];
  for (const [a, b, c] of rows) console.log(`${a.padEnd(28)} ${b.padStart(24)}   ${c}`);
}

await main();
