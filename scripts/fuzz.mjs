#!/usr/bin/env node
/**
 * `npm run fuzz -- --runs N [--seed S] [--case-s SECONDS]`: the fuzz targets (test/fuzz/: experiment documents and
 * command lines) with N cases each instead of `npm test`'s 150, from seed S (default: a fresh one, printed so that a
 * finding can be replayed). Each command line is appended to reports/fuzz/argv.log before it runs, so that a case that
 * takes the process down is named by the log's last line. Exit 0 when nothing was found.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: { runs: { type: 'string', default: '1000' }, seed: { type: 'string' }, 'case-s': { type: 'string', default: '3' } },
  strict: true,
});
const runs = Number(values.runs);
const caseS = Number(values['case-s']);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`fuzz: --runs must be a whole number >= 1, got '${values.runs}'`);
  process.exit(2);
}
if (!(caseS > 0)) {
  console.error(`fuzz: --case-s must be a number of seconds > 0, got '${values['case-s']}'`);
  process.exit(2);
}
// A fresh seed from the clock unless one is given: the fuzz's own choice, printed, never part of a result.
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
const logDir = join(root, 'reports', 'fuzz');
mkdirSync(logDir, { recursive: true });
const log = join(logDir, 'argv.log');
rmSync(log, { force: true });
console.log(`fuzz: ${runs} cases per target, seed ${seed} (replay: npm run fuzz -- --runs ${runs} --seed ${seed})`);
const r = spawnSync(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/fuzz'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, FUZZ_RUNS: String(runs), FUZZ_SEED: String(seed), FUZZ_CASE_S: String(caseS), FUZZ_LOG: log },
});
if (r.status !== 0) console.error(`fuzz: found something (seed ${seed}); the last command line run is the last line of ${log}`);
process.exit(r.status ?? 1);
