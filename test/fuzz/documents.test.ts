/**
 * The fuzz target for experiment documents: every generated document (valid, mutated, or its text cut and spliced) run
 * as `nixlsim run` runs it must end in a result (exit 0) or one UserError (exit 2) of one line, within a time bound, and
 * leave nothing behind but a whole output directory on success. Anything else (another exception type: exit 3 with a
 * stack trace) is a finding, reported with the document that caused it.
 *
 * `npm test` runs FUZZ_RUNS cases (default 150) from a fixed seed, so the suite is the same on every run; `npm run
 * fuzz -- --runs N [--seed S]` runs more, from a fresh seed unless one is given (scripts/fuzz.mjs).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { runExperiment } from '../../src/run/run.js';
import { DEADLINE_ENV } from '../../src/deadline.js';
import { UserError } from '../../src/errors.js';
import { documentCase } from './documents.js';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 150);
const SEED = Number(process.env['FUZZ_SEED'] ?? 29);
/** Wall seconds a case may take: past it the run stops with the --timeout UserError, which counts as a clean end. */
const CASE_S = Number(process.env['FUZZ_CASE_S'] ?? 3);

const root = mkdtempSync(join(tmpdir(), 'nixlsim-fuzz-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe(`fuzz: experiment documents (${RUNS} cases, seed ${SEED})`, () => {
  it('each ends in a result or one clear UserError, and leaves nothing half-written', () => {
    const seen = { valid: 0, mutated: 0, text: 0, ran: 0, validRan: 0 };
    let n = 0;
    fc.assert(
      fc.property(documentCase, (c) => {
        const dir = join(root, `case-${n++}`);
        mkdirSync(dir);
        const file = join(dir, 'fuzz.yaml');
        const out = join(dir, 'out');
        writeFileSync(file, c.text);
        seen[c.kind]++;
        process.env[DEADLINE_ENV] = String(Date.now() + CASE_S * 1000);
        process.env['NIXLSIM_TIMEOUT_S'] = String(CASE_S);
        try {
          const r = runExperiment(file, { out });
          seen.ran++;
          if (c.kind === 'valid') seen.validRan++;
          expect(r.files.length).toBeGreaterThan(0);
          expect(existsSync(join(out, 'summary.json'))).toBe(true);
          expect(readdirSync(dir).sort()).toEqual(['fuzz.yaml', 'out']);
        } catch (err) {
          if (!(err instanceof UserError)) throw err;
          expect(err.message.length).toBeGreaterThan(0);
          expect(err.message).not.toMatch(/\n/);
          expect(readdirSync(dir)).toEqual(['fuzz.yaml']);
        } finally {
          delete process.env[DEADLINE_ENV];
          delete process.env['NIXLSIM_TIMEOUT_S'];
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    // The generator must reach the simulator, not only the loader's errors: most valid documents run.
    expect(seen.valid).toBeGreaterThan(0);
    expect(seen.validRan / seen.valid).toBeGreaterThan(0.5);
    console.log(`fuzz documents: ${JSON.stringify(seen)}`);
  }, 600_000);
});
