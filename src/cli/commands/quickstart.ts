import type { CommandModule } from 'yargs';
import { runMM1 } from '../../demo/mm1.js';
import { wholeNumber } from '../options.js';

interface Args {
  customers: number;
  seed: number;
}

/** The built-in default experiment (`npm start`). For now a demo of the kernel; the serving layer replaces it. */
export const quickstartCommand: CommandModule<object, Args> = {
  command: 'quickstart',
  describe: 'Run the built-in default experiment and print a readable result',
  builder: (y) =>
    y
      .option('customers', { default: 1_000_000, requiresArg: true, describe: 'customers to simulate', coerce: wholeNumber('customers', 1) })
      .option('seed', { default: 1, requiresArg: true, describe: 'master random seed', coerce: wholeNumber('seed') }),
  handler: (args) => {
    const lambda = 0.9;
    const mu = 1;
    const started = process.hrtime.bigint();
    const r = runMM1({ customers: args.customers, arrivalRate: lambda, serviceRate: mu, seed: args.seed });
    const wallS = Number(process.hrtime.bigint() - started) / 1e9;
    const rows: [string, string, string][] = [
      ['mean time in system W (s)', r.meanSojournS.toFixed(3), (1 / (mu - lambda)).toFixed(3)],
      ['mean wait in queue Wq (s)', r.meanWaitS.toFixed(3), (lambda / mu / (mu - lambda)).toFixed(3)],
      ['server utilisation', r.utilisation.toFixed(4), (lambda / mu).toFixed(4)],
    ];
    const out = [
      `nixlsim quickstart: an M/M/1 queue (lambda=${lambda}/s, mu=${mu}/s) on the event kernel, seed ${args.seed}`,
      '',
      `${'metric'.padEnd(28)}${'simulated'.padStart(12)}${'theory'.padStart(12)}`,
      ...rows.map(([m, s, t]) => `${m.padEnd(28)}${s.padStart(12)}${t.padStart(12)}`),
      '',
      `${r.customers.toLocaleString('en-US')} customers, ${r.eventsRun.toLocaleString('en-US')} events, ` +
        `${r.simTimeS.toFixed(0)} simulated seconds in ${wallS.toFixed(2)} s of wall time ` +
        `(${Math.round(r.eventsRun / wallS).toLocaleString('en-US')} events/s).`,
    ];
    console.log(out.join('\n'));
  },
};
